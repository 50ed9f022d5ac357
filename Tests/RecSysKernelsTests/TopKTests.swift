// topK against a full sort of all admissible indices (descending score, NaN last, ties by index).

import RecSysKernels
import XCTest

final class TopKTests: XCTestCase {
  /// The reference: sort every non-excluded index, keep the first k.
  func naiveTopK(_ scores: [Float], k: Int, excluding: [Int32]?) -> [Int32] {
    let excluded = Set((excluding ?? []).map(Int.init))
    let candidates = scores.indices.filter { !excluded.contains($0) }
    let sorted = candidates.sorted { a, b in
      let sa = scores[a]
      let sb = scores[b]
      if sa.isNaN != sb.isNaN { return sb.isNaN }  // numbers before NaNs
      if !sa.isNaN && sa != sb { return sa > sb }
      return a < b  // ties (and NaN vs NaN): lower index first, i.e. a stable sort
    }
    return sorted.prefix(k).map { Int32($0) }
  }

  func check(
    _ scores: [Float], k: Int, excluding: [Int32]?, _ label: String, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    let expected = naiveTopK(scores, k: k, excluding: excluding)
    let capacity = min(k, scores.count)
    let result = GuardedIndices(count: capacity)
    let exclusions = excluding.map { GuardedIndices($0) }
    let written = scores.withUnsafeBufferPointer { s in
      Kernels.topK(scores: s, k: k, excluding: exclusions?.buffer, into: result.mutable)
    }
    XCTAssertEqual(written, expected.count, "\(label): count", file: file, line: line)
    XCTAssertEqual(Array(result.buffer.prefix(written)), expected, label, file: file, line: line)
    result.assertGuardsIntact(label, file: file, line: line)
  }

  func testTable() {
    var rng = SeededGenerator(seed: 60)
    var inputs: [(String, [Float])] = [
      ("empty", []),
      ("one", [0.5]),
      ("two equal", [1, 1]),
      ("increasing", (0..<100).map(Float.init)),
      ("decreasing", (0..<100).map { Float(100 - $0) }),
      ("all equal", [Float](repeating: 2, count: 37)),
      ("all NaN", [Float](repeating: .nan, count: 9)),
      ("specials", [.nan, -.infinity, 0, -0.0, .infinity, .nan, 1, -.infinity, .infinity, -0.0, .nan]),
      ("NaN first", [.nan, .nan, 3, 1, 2]),
    ]
    for n in [17, 64, 1000, 4097] {
      inputs.append(("random \(n)", rng.floats(n)))
      inputs.append(("ties \(n)", (0..<n).map { _ in Float(Int.random(in: 0..<5, using: &rng)) }))
      inputs.append(
        (
          "ties+NaN \(n)",
          (0..<n).map { _ -> Float in
            let r = Int.random(in: 0..<8, using: &rng)
            return r == 0 ? .nan : r == 1 ? -.infinity : Float(r % 3)
          }
        ))
    }
    for (name, scores) in inputs {
      let n = scores.count
      let ks = Set([0, 1, 2, 3, 10, max(0, n - 1), n, n + 5])
      let exclusionSets: [[Int32]?] = [
        nil,
        [],
        n > 0 ? [Int32(n - 1), 0, 0, -1, Int32(n), Int32(n + 100)] : [-1, 5],  // duplicates, out of range
        (0..<min(n, 40)).filter { $0 % 3 == 0 }.map { Int32($0) }.reversed(),
        (0..<n).map { Int32($0) },  // everything excluded
      ]
      for k in ks.sorted() {
        for (e, exclusions) in exclusionSets.enumerated() {
          check(scores, k: k, excluding: exclusions, "\(name) k=\(k) exclusions#\(e)")
        }
      }
    }
  }

  func testLargeCatalog() {
    var rng = SeededGenerator(seed: 61)
    let scores = rng.floats(50_000)
    let history: [Int32] = (0..<50).map { _ in Int32.random(in: 0..<50_000, using: &rng) }
    for k in [1, 10, 100] {
      check(scores, k: k, excluding: nil, "50k k=\(k)")
      check(scores, k: k, excluding: history, "50k k=\(k) excluding history")
      // Exclude the true top few: the next ones must move up.
      let top = naiveTopK(scores, k: 5, excluding: nil)
      check(scores, k: k, excluding: top, "50k k=\(k) excluding top 5")
    }
  }

  func testNilBuffersAndZeroK() {
    let empty = UnsafeBufferPointer<Float>(start: nil, count: 0)
    let noResult = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)
    XCTAssertEqual(Kernels.topK(scores: empty, k: 10, excluding: nil, into: noResult), 0)
    let scores: [Float] = [1, 2, 3]
    scores.withUnsafeBufferPointer { s in
      XCTAssertEqual(Kernels.topK(scores: s, k: 0, excluding: nil, into: noResult), 0)
    }
  }

  /// A larger result buffer is allowed; only the first `written` entries are touched.
  func testLargerResultBuffer() {
    let scores: [Float] = [0.1, 0.9, 0.5]
    let result = GuardedIndices([Int32](repeating: 77, count: 6))
    let written = scores.withUnsafeBufferPointer {
      Kernels.topK(scores: $0, k: 5, excluding: nil, into: result.mutable)
    }
    XCTAssertEqual(written, 3)
    XCTAssertEqual(Array(result.buffer), [1, 2, 0, 77, 77, 77])
  }
}

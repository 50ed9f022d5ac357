// RunningTopK (blocks of a scan offered in row order) against topK over the whole vector: the same
// indices in the same order, ties, NaN and exclusions included, for every block size.

import RecSysKernels
import XCTest

final class RunningTopKTests: XCTestCase {
  func streamed(_ scores: [Float], k: Int, block: Int, excluded: Set<Int32>) -> (rows: [Int32], scores: [Float]) {
    var rows = [Int32](repeating: -1, count: k)
    var kept = [Float](repeating: 0, count: k)
    let count = rows.withUnsafeMutableBufferPointer { rowBuffer in
      kept.withUnsafeMutableBufferPointer { scoreBuffer in
        var best = Kernels.RunningTopK(k: k, rows: rowBuffer, scores: scoreBuffer)
        scores.withUnsafeBufferPointer { all in
          for start in stride(from: 0, to: all.count, by: block) {
            let part = UnsafeBufferPointer(rebasing: all[start..<min(all.count, start + block)])
            best.offer(part, firstRow: start, excluded: { excluded.contains($0) })
          }
        }
        return best.finish()
      }
    }
    return (Array(rows[0..<count]), Array(kept[0..<count]))
  }

  func whole(_ scores: [Float], k: Int, excluded: Set<Int32>) -> [Int32] {
    var result = [Int32](repeating: 0, count: max(k, 1))
    let written = scores.withUnsafeBufferPointer { s in
      result.withUnsafeMutableBufferPointer { r in Kernels.topK(scores: s, k: k, into: r, excluded: { excluded.contains($0) }) }
    }
    return Array(result[0..<written])
  }

  func testMatchesTopKOverTheWholeVector() {
    var rng = SeededGenerator(seed: 180)
    var inputs: [(String, [Float])] = [
      ("empty", []), ("one", [0.5]), ("all equal", [Float](repeating: 2, count: 37)),
      ("all NaN", [Float](repeating: .nan, count: 9)),
      ("specials", [.nan, -.infinity, 0, -0.0, .infinity, .nan, 1, -.infinity, .infinity, -0.0, .nan]),
      ("increasing", (0..<300).map(Float.init)),
    ]
    for n in [17, 1000, 4099] {
      inputs.append(("random \(n)", rng.floats(n)))
      inputs.append(("ties+NaN \(n)", (0..<n).map { _ in
        let r = Int.random(in: 0..<8, using: &rng)
        return r == 0 ? .nan : Float(r % 3)
      }))
    }
    for (name, scores) in inputs {
      let n = scores.count
      let exclusions: [Set<Int32>] = [[], Set((0..<n).filter { $0 % 3 == 0 }.map { Int32($0) }), Set((0..<n).map { Int32($0) })]
      for k in Set([1, 2, 10, max(1, n - 1), n + 3]).sorted() {
        for (e, excluded) in exclusions.enumerated() {
          let expected = whole(scores, k: k, excluded: excluded)
          for block in [1, 7, 8, 64, 4096] {
            let got = streamed(scores, k: k, block: block, excluded: excluded)
            XCTAssertEqual(got.rows, expected, "\(name) k=\(k) exclusions#\(e) block=\(block)")
            for (row, score) in zip(got.rows, got.scores) {
              XCTAssertEqual(score.bitPattern, scores[Int(row)].bitPattern, "\(name): kept score of row \(row)")
            }
          }
        }
      }
    }
  }

  func testZeroK() {
    let streamedRows = streamed([3, 1, 2], k: 0, block: 2, excluded: [])
    XCTAssertEqual(streamedRows.rows, [])
  }
}

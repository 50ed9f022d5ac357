// gatherRows, meanOfRows and dotRows against plain loops.

import RecSysKernels
import XCTest

final class RowsTests: XCTestCase {
  func testGatherRows() {
    var rng = SeededGenerator(seed: 30)
    let cases: [(rows: Int, dim: Int, indices: [Int32])] = [
      (1, 1, [0]), (5, 3, []), (5, 3, [4, 0, 4, 2]), (100, 64, [99, 0, 17, 17, 50]), (7, 9, [6]),
    ]
    for (n, t) in cases.enumerated() {
      let label = "gatherRows case \(n)"
      let table = Guarded(rng.floats(t.rows * t.dim))
      let indices = GuardedIndices(t.indices)
      let out = Guarded(count: t.indices.count * t.dim)
      var expected: [Double] = []
      for index in t.indices { for j in 0..<t.dim { expected.append(Double(table[Int(index) * t.dim + j])) } }
      Kernels.gatherRows(matrix: table.buffer, rowIndices: indices.buffer, dim: t.dim, output: out.mutable)
      assertClose(out.array, expected, tolerance: 0, label)
      out.assertGuardsIntact(label)
    }
  }

  func testMeanOfRows() {
    var rng = SeededGenerator(seed: 31)
    let cases: [(rows: Int, dim: Int, indices: [Int32])] = [
      (1, 1, [0]), (5, 3, []), (5, 3, [4, 0, 4, 2]), (1000, 64, (0..<200).map { Int32($0 * 5 % 1000) }),
      (7, 9, [6]), (3, 5, [1, 1, 1]),
    ]
    for (n, t) in cases.enumerated() {
      let label = "meanOfRows case \(n)"
      let table = Guarded(rng.floats(t.rows * t.dim))
      let indices = GuardedIndices(t.indices)
      let out = Guarded(count: t.dim)
      var expected = [Double](repeating: 0, count: t.dim)
      for index in t.indices { for j in 0..<t.dim { expected[j] += Double(table[Int(index) * t.dim + j]) } }
      if !t.indices.isEmpty { expected = expected.map { $0 / Double(t.indices.count) } }
      Kernels.meanOfRows(matrix: table.buffer, rowIndices: indices.buffer, dim: t.dim, output: out.mutable)
      assertClose(out.array, expected, tolerance: 1e-6, label)
      out.assertGuardsIntact(label)
    }
  }

  func testMeanOfNoRowsIsZeros() {
    let out = Guarded(count: 4)
    Kernels.meanOfRows(
      matrix: UnsafeBufferPointer(start: nil, count: 0),
      rowIndices: UnsafeBufferPointer(start: nil, count: 0),
      dim: 4, output: out.mutable)
    XCTAssertEqual(out.array, [0, 0, 0, 0])
    out.assertGuardsIntact("meanOfRows empty")
  }

  func testDotRows() {
    var rng = SeededGenerator(seed: 32)
    // Index counts around the prefetch distance (8 rows ahead), dims off the 16-float vector (tails),
    // repeated and extreme rows.
    let cases: [(rows: Int, dim: Int, indices: [Int32])] = [
      (1, 1, [0]), (5, 3, []), (5, 3, [4, 0, 4, 2]), (7, 9, [6]), (3, 0, [1, 2]),
      (40, 17, (0..<8).map { Int32($0 * 5) }), (40, 33, (0..<9).map { Int32(39 - $0 * 4) }), (20, 16, [19, 0]),
      (1000, 64, (0..<500).map { Int32($0 * 7 % 1000) }), (300, 64, (0..<64).map { Int32($0) }),
      (300, 64, (0..<65).map { Int32(299 - $0) }), (50, 5000, [49, 0, 1]),
    ]
    for (n, t) in cases.enumerated() {
      let label = "dotRows case \(n)"
      let table = Guarded(rng.floats(t.rows * t.dim))
      let vector = Guarded(rng.floats(t.dim))
      let indices = GuardedIndices(t.indices)
      let out = Guarded(count: t.indices.count)
      let expected = t.indices.map { index in
        (0..<t.dim).reduce(0.0) { $0 + Double(table[Int(index) * t.dim + $1]) * Double(vector[$1]) }
      }
      Kernels.dotRows(
        matrix: table.buffer, rowIndices: indices.buffer, vector: vector.buffer, dim: t.dim, output: out.mutable)
      assertClose(out.array, expected, tolerance: 1e-5, label)
      out.assertGuardsIntact(label)
    }
  }

  /// A row's score does not depend on where it sits among the candidates (sum order depends only on
  /// dim): the same row first, after the prefetch distance, and last give bit-identical scores.
  func testDotRowsScoreIndependentOfPosition() {
    var rng = SeededGenerator(seed: 33)
    let (rows, dim) = (64, 100)
    let table = Guarded(rng.floats(rows * dim))
    let vector = Guarded(rng.floats(dim))
    let indices = GuardedIndices([9] + (0..<20).map { Int32($0 * 3) } + [9])  // row 9 at positions 0, 4, 21
    let out = Guarded(count: 22)
    Kernels.dotRows(matrix: table.buffer, rowIndices: indices.buffer, vector: vector.buffer, dim: dim, output: out.mutable)
    XCTAssertEqual(out[0].bitPattern, out[4].bitPattern)
    XCTAssertEqual(out[0].bitPattern, out[21].bitPattern)
  }
}

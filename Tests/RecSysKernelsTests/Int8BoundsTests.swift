// The int8 scans' fast paths (AVX-512 VNNI for d % 32 == 0, AVX2 for d % 16 == 0, plain) against
// the integer formula bit for bit, and the exact mode's pre-pass bounds: every row's fp32 scan
// score lies between them, for random and adversarial tables and queries.

import RecSysKernels
import XCTest

final class Int8BoundsTests: XCTestCase {
  let dims = [16, 32, 48, 64, 100, 128]
  let rowCounts = [0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000]

  func testInt8ScanEqualsTheIntegerFormulaBitForBitOnEveryPath() {
    var rng = SeededGenerator(seed: 191)
    for dim in dims + [96, 160] {
      for rows in rowCounts {
        // Extreme codes too: every product at +-127 * 127 checks the vpdpbusd offset and overflow.
        let extreme = rows % 2 == 1
        let table = (0..<rows * dim).map { i -> Int8 in extreme && i % 3 == 0 ? (i % 2 == 0 ? 127 : -127) : Int8.random(in: -127...127, using: &rng) }
        let query = (0..<dim).map { j -> Int8 in extreme ? (j % 5 == 0 ? -127 : 127) : Int8.random(in: -127...127, using: &rng) }
        let scales = rng.floats(rows, in: 0.001...0.1)
        let queryScale: Float = 0.37
        let output = Guarded(count: rows)
        table.withUnsafeBufferPointer { t in
          scales.withUnsafeBufferPointer { s in
            query.withUnsafeBufferPointer { q in
              Kernels.int8Scores(quantized: t, scales: s, query: q, queryScale: queryScale, rows: rows, dim: dim, output: output.mutable)
            }
          }
        }
        for r in 0..<rows {
          let sum = (0..<dim).reduce(Int32(0)) { $0 + Int32(table[r * dim + $1]) * Int32(query[$1]) }
          let expected = scales[r] * queryScale * Float(sum)
          XCTAssertEqual(output[r].bitPattern, expected.bitPattern, "rows=\(rows) dim=\(dim) row \(r): \(output[r]) vs \(expected)")
        }
        output.assertGuardsIntact("rows=\(rows) dim=\(dim)")
      }
    }
  }

  /// Every row's score from the fp32 scan lies within the pre-pass bounds (NaN bounds for rows
  /// with non-finite values count as "always re-scored").
  func assertBoundsHold(_ matrix: [Float], _ z: [Float], rows: Int, dim: Int, _ label: String) {
    var codes = [Int8](repeating: 0, count: rows * dim)
    var scales = [Float](repeating: 0, count: rows)
    var residualNorms = [Float](repeating: 0, count: rows)
    var codeNorms = [Float](repeating: 0, count: rows)
    var queryCodes = [Int8](repeating: 0, count: dim)
    let upper = Guarded(count: rows), lower = Guarded(count: rows), exact = Guarded(count: rows)
    matrix.withUnsafeBufferPointer { m in
      codes.withUnsafeMutableBufferPointer { c in
        scales.withUnsafeMutableBufferPointer { s in Kernels.quantizeRowsInt8(m, rows: rows, dim: dim, into: c, scales: s) }
      }
      residualNorms.withUnsafeMutableBufferPointer { e in
        codeNorms.withUnsafeMutableBufferPointer { b in
          Kernels.int8ErrorNorms(
            m, quantized: codes.withUnsafeBufferPointer { $0 }, scales: scales.withUnsafeBufferPointer { $0 }, rows: rows,
            dim: dim, residualNorms: e, codeNorms: b)
        }
      }
      z.withUnsafeBufferPointer { zb in
        Kernels.scanDotProducts(matrix: m, query: zb, rows: rows, dim: dim, output: exact.mutable)
        let queryScale = queryCodes.withUnsafeMutableBufferPointer { Kernels.quantizeInt8(zb, into: $0) }
        guard let norms = queryCodes.withUnsafeBufferPointer({ Kernels.int8QueryNorms(zb, codes: $0, scale: queryScale) }) else {
          return XCTFail("\(label): finite z without norms")
        }
        codes.withUnsafeBufferPointer { c in
          Kernels.int8ScoreBounds(
            quantized: c, scales: scales.withUnsafeBufferPointer { $0 }, residualNorms: residualNorms.withUnsafeBufferPointer { $0 },
            codeNorms: codeNorms.withUnsafeBufferPointer { $0 }, query: queryCodes.withUnsafeBufferPointer { $0 },
            queryScale: queryScale, queryNorm: norms.norm, queryResidualNorm: norms.residualNorm, rows: rows, dim: dim,
            cached: rows % 2 == 0, upper: upper.mutable, lower: lower.mutable)
        }
      }
    }
    var violations = 0
    for r in 0..<rows {
      let finiteRow = (0..<dim).allSatisfy { matrix[r * dim + $0].isFinite }
      if !finiteRow {
        if upper[r] < .infinity || lower[r] > -.infinity { violations += 1 }  // NaN passes: never skipped
        continue
      }
      if !(lower[r] <= exact[r] && exact[r] <= upper[r]) {
        violations += 1
        if violations < 5 { XCTFail("\(label) row \(r): \(exact[r]) outside [\(lower[r]), \(upper[r])]") }
      }
    }
    XCTAssertEqual(violations, 0, label)
    upper.assertGuardsIntact(label)
    lower.assertGuardsIntact(label)
  }

  func testPrePassBoundsHoldForRandomTables() {
    var rng = SeededGenerator(seed: 192)
    for dim in dims {
      for rows in [1, 15, 16, 17, 1000] {
        let matrix = rng.floats(rows * dim, in: -2...2)
        assertBoundsHold(matrix, rng.floats(dim, in: -3...3), rows: rows, dim: dim, "random d=\(dim) n=\(rows)")
      }
    }
  }

  func testPrePassBoundsHoldForAdversarialTablesAndQueries() {
    var rng = SeededGenerator(seed: 193)
    for dim in [16, 64, 100] {
      let rows = 200
      // One huge element, the rest tiny (the tiny ones all quantize to 0).
      var spiky = rng.floats(rows * dim, in: -1e-6...1e-6)
      for r in 0..<rows { spiky[r * dim + r % dim] = r % 2 == 0 ? 1e6 : -3e5 }
      // Zero rows, identical rows, values that are exactly on the int8 grid.
      var mixed = [Float](repeating: 0, count: rows * dim)
      for r in 0..<rows where r % 3 != 0 {
        for j in 0..<dim { mixed[r * dim + j] = r % 3 == 1 ? Float(j % 7) - 3 : 0.125 * Float((j * 5) % 255 - 127) }
      }
      // Non-finite values in some rows.
      var broken = rng.floats(rows * dim)
      broken[3 * dim] = .nan
      broken[7 * dim + 1] = .infinity
      broken[9 * dim + dim - 1] = -.infinity
      let wide = (0..<dim).map { j -> Float in j % 3 == 0 ? 1e20 : (j % 3 == 1 ? 1e-20 : -3e10) }
      let tiny = (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) * 1e-30 }
      let subnormalTable = rng.floats(rows * dim).map { $0 * 1e-10 }
      for (name, matrix) in [("spiky", spiky), ("mixed", mixed), ("broken", broken), ("subnormal", subnormalTable)] {
        for (zName, z) in [("random", rng.floats(dim, in: -5...5)), ("wide", wide), ("tiny", tiny), ("grid", (0..<dim).map { Float($0 % 5) - 2 })] {
          assertBoundsHold(matrix, z, rows: rows, dim: dim, "\(name) x \(zName) d=\(dim)")
        }
      }
    }
  }

  func testQueryNormsRefuseNonFiniteQueries() {
    for bad in [Float.nan, .infinity, -.infinity] {
      let z: [Float] = [1, 2, bad, 4]
      let codes = [Int8](repeating: 0, count: 4)
      XCTAssertNil(z.withUnsafeBufferPointer { zb in codes.withUnsafeBufferPointer { Kernels.int8QueryNorms(zb, codes: $0, scale: 1) } })
    }
  }

  func testPositionsNotBelowTakeTiesAndNaN() {
    var rng = SeededGenerator(seed: 194)
    for count in [0, 1, 7, 8, 9, 100, 4096] {
      var values = rng.floats(count)
      if count > 5 {
        values[2] = .nan
        values[5] = 0.25
      }
      var positions = [Int32](repeating: -1, count: count)
      let found = values.withUnsafeBufferPointer { v in
        positions.withUnsafeMutableBufferPointer { Kernels.positions(of: v, notBelow: 0.25, into: $0) }
      }
      let expected = values.indices.filter { !(values[$0] < 0.25) }.map { Int32($0) }
      XCTAssertEqual(Array(positions[0..<found]), expected, "count \(count)")
    }
  }
}

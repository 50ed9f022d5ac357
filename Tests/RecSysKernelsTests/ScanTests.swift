// The catalog scans (fp32 and int8; AVX2 kernels eight rows at a time, the cached fp32 AVX-512 ones
// sixteen) against plain loops, for row counts around those steps and dims the fast paths take
// (multiples of 8 / 16; 32, 64 and 128 for AVX-512) or not.

import RecSysKernels
import XCTest

final class ScanTests: XCTestCase {
  func testFloatScanMatchesPlainDotProducts() {
    var rng = SeededGenerator(seed: 181)
    for dim in [1, 7, 8, 16, 32, 64, 100, 128] {
      for rows in [0, 1, 7, 8, 9, 15, 16, 17, 63, 1000] {
        let matrix = rng.floats(rows * dim)
        let query = rng.floats(dim)
        let expected = (0..<rows).map { r in (0..<dim).reduce(Float(0)) { $0 + matrix[r * dim + $1] * query[$1] } }
        for cached in [false, true] {  // with and without the kernel's prefetches
          let output = Guarded(count: rows)
          matrix.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in
              Kernels.scanDotProducts(matrix: m, query: q, rows: rows, dim: dim, output: output.mutable, cached: cached)
            }
          }
          assertClose(Array(output.buffer), expected, tolerance: 1e-4, "f32 rows=\(rows) dim=\(dim) cached=\(cached)")
          output.assertGuardsIntact("f32 rows=\(rows) dim=\(dim) cached=\(cached)")
        }
      }
    }
  }

  func testSelectedRowsGetTheBlockScansBitsExactly() {
    var rng = SeededGenerator(seed: 184)
    for dim in [1, 7, 8, 16, 32, 48, 64, 100, 128] {
      for rows in [1, 7, 8, 9, 15, 16, 17, 31, 33, 100] {
        let matrix = rng.floats(rows * dim, in: -3...3)
        let query = rng.floats(dim, in: -3...3)
        let block = Guarded(count: rows)
        let positions = (0..<rows).reversed().map { Int32($0) } + [0, Int32(rows - 1)]  // any order, repeats
        let selected = Guarded(count: positions.count)
        matrix.withUnsafeBufferPointer { m in
          query.withUnsafeBufferPointer { q in
            Kernels.scanDotProducts(matrix: m, query: q, rows: rows, dim: dim, output: block.mutable, cached: true)
            positions.withUnsafeBufferPointer { p in
              Kernels.scanDotProducts(ofRows: p, inBlock: m, query: q, rows: rows, dim: dim, output: selected.mutable)
            }
          }
        }
        for (i, position) in positions.enumerated() {
          XCTAssertEqual(selected[i].bitPattern, block[Int(position)].bitPattern, "dim=\(dim) rows=\(rows) row \(position)")
        }
        selected.assertGuardsIntact("dim=\(dim) rows=\(rows)")
      }
    }
  }

  func testScanTablesAreZeroedWritableAndEmptyForNoRows() throws {
    let empty = try XCTUnwrap(Kernels.allocateScanTable(of: Float.self, count: 0))
    XCTAssertEqual(empty.count, 0)
    XCTAssertNil(empty.baseAddress)
    Kernels.freeScanTable(empty)
    // 3 MiB: past the 2 MiB from which huge pages are asked for.
    let count = 3 << 18
    let table = try XCTUnwrap(Kernels.allocateScanTable(of: Float.self, count: count))
    defer { Kernels.freeScanTable(table) }
    XCTAssertEqual(table.count, count)
    XCTAssertEqual(Int(bitPattern: table.baseAddress) % 4096, 0, "page aligned")
    XCTAssertTrue(table.allSatisfy { $0 == 0 })
    table[count - 1] = 2.5
    XCTAssertEqual(table[count - 1], 2.5)
  }

  func testInt8ScanIsTheExactIntegerProductTimesTheScales() {
    var rng = SeededGenerator(seed: 182)
    for dim in [3, 16, 64, 80] {
      for rows in [1, 8, 13, 500] {
        let table = (0..<rows * dim).map { _ in Int8.random(in: -127...127, using: &rng) }
        let query = (0..<dim).map { _ in Int8.random(in: -127...127, using: &rng) }
        let scales = rng.floats(rows, in: 0.001...0.1)
        let output = Guarded(count: rows)
        table.withUnsafeBufferPointer { t in
          scales.withUnsafeBufferPointer { s in
            query.withUnsafeBufferPointer { q in
              Kernels.int8Scores(quantized: t, scales: s, query: q, queryScale: 0.5, rows: rows, dim: dim, output: output.mutable)
            }
          }
        }
        let expected = (0..<rows).map { r -> Float in
          let sum = (0..<dim).reduce(Int32(0)) { $0 + Int32(table[r * dim + $1]) * Int32(query[$1]) }
          return scales[r] * 0.5 * Float(sum)
        }
        assertClose(Array(output.buffer), expected, tolerance: 1e-3, "int8 rows=\(rows) dim=\(dim)")
        output.assertGuardsIntact("int8 rows=\(rows) dim=\(dim)")
      }
    }
  }

  func testQuantizedRowsReconstructWithinHalfAStep() {
    var rng = SeededGenerator(seed: 183)
    let rows = 20, dim = 64
    var matrix = rng.floats(rows * dim, in: -3...3)
    for j in 0..<dim { matrix[5 * dim + j] = 0 }  // an all-zero row: scale 0, codes 0
    var codes = [Int8](repeating: 0, count: rows * dim)
    var scales = [Float](repeating: -1, count: rows)
    matrix.withUnsafeBufferPointer { m in
      codes.withUnsafeMutableBufferPointer { c in
        scales.withUnsafeMutableBufferPointer { s in Kernels.quantizeRowsInt8(m, rows: rows, dim: dim, into: c, scales: s) }
      }
    }
    XCTAssertEqual(scales[5], 0)
    for r in 0..<rows {
      for j in 0..<dim {
        let value = matrix[r * dim + j]
        XCTAssertLessThanOrEqual(abs(Float(codes[r * dim + j]) * scales[r] - value), scales[r] / 2 + 1e-6, "row \(r) col \(j)")
      }
    }
  }
}

// Whole-catalog scans: one query against every row of a table, as the retrieval modes read it.
// The only file that calls CRecSysScan (AVX2 + FMA kernels eight rows per step; AVX-512 sixteen
// for cached tables of d 32, 64, 128).

import CRecSysScan

extension Kernels {
  /// `output[r] = matrix[r] · query` for every row: the `exact` mode's scan. Same result as
  /// `gemv` up to float rounding (the sums run in another order), at the memory's read bandwidth
  /// on large tables where OpenBLAS's sgemv reached a quarter of it. `cached`: the whole table
  /// stays in the cache between calls (`scanCacheBytes`), so the kernel skips its prefetches.
  public static func scanDotProducts(
    matrix: UnsafeBufferPointer<Float>,  // [rows x dim]
    query: UnsafeBufferPointer<Float>,  // [dim]
    rows: Int, dim: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [rows]
    cached: Bool = false
  ) {
    requireCount(matrix.count, atLeast: rows * dim, "scanDotProducts: matrix too small")
    requireCount(query.count, atLeast: dim, "scanDotProducts: query too small")
    requireCount(output.count, atLeast: rows, "scanDotProducts: output too small")
    if rows == 0 { return }
    if cached {
      recsys_scan_f32_cached(matrix.baseAddress, rows, dim, query.baseAddress, output.baseAddress)
    } else {
      recsys_scan_f32(matrix.baseAddress, rows, dim, query.baseAddress, output.baseAddress)
    }
  }

  /// `output[i]` = the score `scanDotProducts` over the whole `matrix` (a block of the table) gives
  /// row `positions[i]`, bit for bit, reading only those rows (recsys_scan.h says how).
  public static func scanDotProducts(
    ofRows positions: UnsafeBufferPointer<Int32>,  // [n], each in 0..<rows
    inBlock matrix: UnsafeBufferPointer<Float>,  // [rows x dim]
    query: UnsafeBufferPointer<Float>,  // [dim]
    rows: Int, dim: Int,
    output: UnsafeMutableBufferPointer<Float>  // [n]
  ) {
    requireCount(matrix.count, atLeast: rows * dim, "scanDotProducts(ofRows:): matrix too small")
    requireCount(query.count, atLeast: dim, "scanDotProducts(ofRows:): query too small")
    requireCount(output.count, atLeast: positions.count, "scanDotProducts(ofRows:): output too small")
    for position in positions { precondition(position >= 0 && Int(position) < rows, "scanDotProducts(ofRows:): row out of range") }
    if positions.isEmpty { return }
    recsys_scan_f32_rows_of_block(
      matrix.baseAddress, rows, dim, query.baseAddress, positions.baseAddress, positions.count, output.baseAddress)
  }

  /// Zeroed memory for `count` elements of a table the scans stream, on transparent huge pages
  /// where the system grants them (recsys_scan.h says why); nil when the memory cannot be had.
  /// Release with `freeScanTable`.
  public static func allocateScanTable<Element>(of _: Element.Type, count: Int) -> UnsafeMutableBufferPointer<Element>? {
    precondition(count >= 0, "negative count")
    if count == 0 { return UnsafeMutableBufferPointer(start: nil, count: 0) }
    guard let memory = recsys_scan_table_alloc(count * MemoryLayout<Element>.stride) else { return nil }
    return UnsafeMutableBufferPointer(start: memory.bindMemory(to: Element.self, capacity: count), count: count)
  }

  public static func freeScanTable<Element>(_ table: UnsafeMutableBufferPointer<Element>) {
    guard let start = table.baseAddress else { return }
    recsys_scan_table_free(start, table.count * MemoryLayout<Element>.stride)
  }

  /// Bytes of the last-level cache; a table of at most half of it counts as `cached`.
  public static var scanCacheBytes: Int { recsys_scan_cache_bytes() }

  /// `output[r] = scales[r] * queryScale * (quantized[r] . query)` for every row: approximate
  /// dot products of the fp32 rows with the fp32 query, from a quarter of the bytes.
  public static func int8Scores(
    quantized: UnsafeBufferPointer<Int8>,  // [rows x dim]
    scales: UnsafeBufferPointer<Float>,  // [rows]
    query: UnsafeBufferPointer<Int8>,  // [dim]
    queryScale: Float,
    rows: Int, dim: Int,
    output: UnsafeMutableBufferPointer<Float>  // [rows]
  ) {
    requireCount(quantized.count, atLeast: rows * dim, "int8Scores: quantized too small")
    requireCount(scales.count, atLeast: rows, "int8Scores: scales too small")
    requireCount(query.count, atLeast: dim, "int8Scores: query too small")
    requireCount(output.count, atLeast: rows, "int8Scores: output too small")
    if rows == 0 { return }
    recsys_scan_int8(
      quantized.baseAddress, scales.baseAddress, rows, dim, query.baseAddress, queryScale, output.baseAddress)
  }
}

extension Kernels {
  /// Bounds on every row's fp32 score from its int8 one (`upper[r] >= fl(row_r . z) >= lower[r]`;
  /// NaN for a row with non-finite values): the `exact` mode's pre-pass. The norms come from
  /// `int8ErrorNorms` and `int8QueryNorms` (Int8.swift derives the bound).
  public static func int8ScoreBounds(
    quantized: UnsafeBufferPointer<Int8>,  // [rows x dim]
    scales: UnsafeBufferPointer<Float>,  // [rows]
    residualNorms: UnsafeBufferPointer<Float>,  // [rows]
    codeNorms: UnsafeBufferPointer<Float>,  // [rows]
    query: UnsafeBufferPointer<Int8>,  // [dim]
    queryScale: Float, queryNorm: Float, queryResidualNorm: Float,
    rows: Int, dim: Int, cached: Bool,
    upper: UnsafeMutableBufferPointer<Float>,  // [rows]
    lower: UnsafeMutableBufferPointer<Float>  // [rows]
  ) {
    requireCount(quantized.count, atLeast: rows * dim, "int8ScoreBounds: quantized too small")
    requireCount(scales.count, atLeast: rows, "int8ScoreBounds: scales too small")
    requireCount(residualNorms.count, atLeast: rows, "int8ScoreBounds: residualNorms too small")
    requireCount(codeNorms.count, atLeast: rows, "int8ScoreBounds: codeNorms too small")
    requireCount(query.count, atLeast: dim, "int8ScoreBounds: query too small")
    requireCount(upper.count, atLeast: rows, "int8ScoreBounds: upper too small")
    requireCount(lower.count, atLeast: rows, "int8ScoreBounds: lower too small")
    if rows == 0 { return }
    recsys_scan_int8_bounds(
      quantized.baseAddress, scales.baseAddress, residualNorms.baseAddress, codeNorms.baseAddress, rows, dim,
      query.baseAddress, queryScale, queryNorm, queryResidualNorm, int8AbsoluteSlack(dim: dim), cached ? 1 : 0,
      upper.baseAddress, lower.baseAddress)
  }

  /// Writes the positions i with `!(values[i] < threshold)` (NaN included), ascending, to
  /// `positions` and returns how many.
  public static func positions(
    of values: UnsafeBufferPointer<Float>, notBelow threshold: Float, into positions: UnsafeMutableBufferPointer<Int32>
  ) -> Int {
    requireCount(positions.count, atLeast: values.count, "positions(notBelow:): positions too small")
    if values.isEmpty { return 0 }
    return recsys_scan_select_not_below(values.baseAddress, values.count, threshold, positions.baseAddress)
  }
}

// Matrix products through OpenBLAS (row-major CBLAS). The only file that calls cblas_*.

import COpenBLAS

extension Kernels {
  /// `c = alpha * op(a) * op(b) + beta * c`, row-major (`cblas_sgemm`).
  ///
  /// `op(a)` is `[m x k]`: `a` is stored `[m x k]`, or `[k x m]` when `transposeA`.
  /// `op(b)` is `[k x n]`: `b` is stored `[k x n]`, or `[n x k]` when `transposeB`.
  /// `lda`, `ldb`, `ldc` are the row strides (leading dimensions) of the stored matrices, so any of
  /// them may be a column block of a wider matrix. With `beta == 0`, `c` is not read (NaNs in it
  /// are overwritten). `k == 0` gives `c = beta * c`.
  public static func gemm(
    transposeA: Bool, transposeB: Bool,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafeBufferPointer<Float>, lda: Int,  // [m x k], or [k x m] when transposeA
    b: UnsafeBufferPointer<Float>, ldb: Int,  // [k x n], or [n x k] when transposeB
    beta: Float = 0,
    c: UnsafeMutableBufferPointer<Float>, ldc: Int  // [m x n]
  ) {
    requireMatrix(
      a.count, rows: transposeA ? k : m, cols: transposeA ? m : k, stride: lda, "gemm: a too small")
    requireMatrix(
      b.count, rows: transposeB ? n : k, cols: transposeB ? k : n, stride: ldb, "gemm: b too small")
    requireMatrix(c.count, rows: m, cols: n, stride: ldc, "gemm: c too small")
    if m == 0 || n == 0 { return }
    if k == 0 {
      scaleMatrix(c.baseAddress!, rows: m, cols: n, stride: ldc, by: beta)
      return
    }
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      blasInt(m), blasInt(n), blasInt(k),
      alpha, a.baseAddress!, blasInt(lda), b.baseAddress!, blasInt(ldb),
      beta, c.baseAddress!, blasInt(ldc))
  }

  /// `output = alpha * matrix * vector + beta * output` (`cblas_sgemv`), or with `transposed`,
  /// `output = alpha * matrix^T * vector + beta * output`.
  ///
  /// Catalog scoring `scores = item_emb · z` is `gemv(matrix: itemEmb, vector: z, output: scores,
  /// rows: N, columns: d)`. `matrixStride` (default `columns`) lets `matrix` be a column block.
  /// With `beta == 0`, `output` is not read.
  public static func gemv(
    matrix: UnsafeBufferPointer<Float>,  // [rows x columns], row stride matrixStride
    vector: UnsafeBufferPointer<Float>,  // [columns], or [rows] when transposed
    output: UnsafeMutableBufferPointer<Float>,  // [rows], or [columns] when transposed
    rows: Int, columns: Int,
    matrixStride: Int? = nil,
    transposed: Bool = false,
    alpha: Float = 1, beta: Float = 0
  ) {
    let stride = matrixStride ?? columns
    requireMatrix(matrix.count, rows: rows, cols: columns, stride: stride, "gemv: matrix too small")
    let inLength = transposed ? rows : columns
    let outLength = transposed ? columns : rows
    requireCount(vector.count, atLeast: inLength, "gemv: vector too small")
    requireCount(output.count, atLeast: outLength, "gemv: output too small")
    if outLength == 0 { return }
    if beta == 0 || inLength == 0 {
      // Zero (or scale) first: BLAS implementations differ on whether beta == 0 reads `output`.
      scaleMatrix(output.baseAddress!, rows: 1, cols: outLength, stride: outLength, by: beta)
      if inLength == 0 { return }
    }
    cblas_sgemv(
      CblasRowMajor, transposed ? CblasTrans : CblasNoTrans,
      blasInt(rows), blasInt(columns),
      alpha, matrix.baseAddress!, blasInt(stride), vector.baseAddress!, 1,
      beta == 0 ? 1 : beta, output.baseAddress!, 1)
  }

  /// `nn.Linear`: `output = input · weight^T + bias`, one `cblas_sgemm` (B transposed) for all rows,
  /// then the bias add, and with `relu` the ReLU in the same pass (one pass over the output while
  /// the GEMM left it in cache, not two). With `accumulate`, the product is added to `output`
  /// instead of replacing it (so a layer can be applied block by block:
  /// `W[:, 0..<a] x1 + W[:, a..<b] x2 + bias`).
  ///
  /// The strides default to the packed widths (`inFeatures`, `inFeatures`, `outFeatures`); pass a
  /// larger `weightStride` to use a column block of a wider weight (start `weight` at the block's
  /// first column), a larger `inputStride` / `outputStride` to read or write a column block of a
  /// wider activation matrix (e.g. write straight into part of a concat buffer).
  public static func linear(
    input: UnsafeBufferPointer<Float>,  // [rows x inFeatures], row stride inputStride
    weight: UnsafeBufferPointer<Float>,  // [outFeatures x inFeatures] (nn.Linear), row stride weightStride
    bias: UnsafeBufferPointer<Float>?,  // [outFeatures], or nil
    output: UnsafeMutableBufferPointer<Float>,  // [rows x outFeatures], row stride outputStride
    rows: Int, inFeatures: Int, outFeatures: Int,
    inputStride: Int? = nil, weightStride: Int? = nil, outputStride: Int? = nil,
    accumulate: Bool = false, relu applyingReLU: Bool = false
  ) {
    let outStride = outputStride ?? outFeatures
    if outFeatures == 1 && outStride == 1 {
      // One output (a ranker's score layer): a GEMV over the rows; sgemm with n = 1 spends more
      // on packing than on the product.
      gemv(matrix: input, vector: weight, output: output, rows: rows, columns: inFeatures,
           matrixStride: inputStride ?? inFeatures, beta: accumulate ? 1 : 0)
    } else {
      gemm(
        transposeA: false, transposeB: true,
        m: rows, n: outFeatures, k: inFeatures,
        a: input, lda: inputStride ?? inFeatures,
        b: weight, ldb: weightStride ?? inFeatures,
        beta: accumulate ? 1 : 0,
        c: output, ldc: outStride)
    }
    if let bias { requireCount(bias.count, atLeast: outFeatures, "linear: bias too small") }
    if rows > 0 && outFeatures > 0 && (bias != nil || applyingReLU) {
      addBias(output.baseAddress!, bias?.baseAddress, rows: rows, cols: outFeatures, stride: outStride, relu: applyingReLU)
    }
  }
}

// MARK: - Helpers

extension Kernels {
  /// `m[r, c] *= factor` for a strided block; `factor == 0` writes zeros (does not keep NaNs).
  @inline(__always)
  static func scaleMatrix(
    _ m: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int, by factor: Float
  ) {
    for r in 0..<rows {
      let row = m + r * stride
      if factor == 0 {
        row.update(repeating: 0, count: cols)
      } else if factor != 1 {
        for j in 0..<cols { row[j] *= factor }
      }
    }
  }

  /// `m[r, :] += bias` for a strided block (no add when `bias` is nil), then `max(·, 0)` when
  /// `relu` (a select: NaN stays NaN, as `Kernels.relu`).
  @inline(__always)
  static func addBias(
    _ m: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?, rows: Int, cols: Int, stride: Int,
    relu: Bool = false
  ) {
    for r in 0..<rows {
      let row = m + r * stride
      switch (bias, relu) {
      case (let bias?, false): for j in 0..<cols { row[j] += bias[j] }
      case (let bias?, true):
        for j in 0..<cols {
          let value = row[j] + bias[j]
          row[j] = value < 0 ? 0 : value
        }
      case (nil, true): for j in 0..<cols { row[j] = row[j] < 0 ? 0 : row[j] }
      case (nil, false): return
      }
    }
  }
}

extension Kernels {
  /// `sum(a[i] * b[i])` over `a.count` elements (`cblas_sdot`); `b` must be at least as long.
  /// Scoring a few candidates: `dot(itemEmbRow, z)`.
  public static func dot(
    _ a: UnsafeBufferPointer<Float>,  // [count]
    _ b: UnsafeBufferPointer<Float>  // [count]
  ) -> Float {
    requireCount(b.count, atLeast: a.count, "dot: b shorter than a")
    if a.isEmpty { return 0 }
    return cblas_sdot(blasInt(a.count), a.baseAddress!, 1, b.baseAddress!, 1)
  }
}

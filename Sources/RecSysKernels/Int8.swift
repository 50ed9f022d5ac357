// Symmetric int8 quantization with one scale per row (the `quantized` retrieval mode's table).

extension Kernels {
  /// Quantizes `values` to int8 as `values ~= scale * output`, with `scale = max|v| / 127`
  /// (round to nearest), and returns the scale (0 for an all-zero or non-finite-free zero
  /// vector, whose output is all zeros).
  @discardableResult
  public static func quantizeInt8(
    _ values: UnsafeBufferPointer<Float>,  // [n]
    into output: UnsafeMutableBufferPointer<Int8>  // [n]
  ) -> Float {
    requireCount(output.count, atLeast: values.count, "quantizeInt8: output too small")
    var largest: Float = 0
    for value in values where value.isFinite { largest = max(largest, abs(value)) }
    guard largest > 0 else {
      output.update(repeating: 0)
      return 0
    }
    let scale = largest / 127
    let inverse = 1 / scale
    for (index, value) in values.enumerated() {
      let scaled = value.isFinite ? (value * inverse).rounded() : 0
      output[index] = Int8(max(-127, min(127, scaled)))
    }
    return scale
  }

  /// Quantizes each row of `matrix` `[rows x dim]` on its own: `quantized[r]`, `scales[r]`.
  public static func quantizeRowsInt8(
    _ matrix: UnsafeBufferPointer<Float>,  // [rows x dim]
    rows: Int, dim: Int,
    into quantized: UnsafeMutableBufferPointer<Int8>,  // [rows x dim]
    scales: UnsafeMutableBufferPointer<Float>  // [rows]
  ) {
    requireCount(matrix.count, atLeast: rows * dim, "quantizeRowsInt8: matrix too small")
    requireCount(quantized.count, atLeast: rows * dim, "quantizeRowsInt8: quantized too small")
    requireCount(scales.count, atLeast: rows, "quantizeRowsInt8: scales too small")
    for row in 0..<rows {
      scales[row] = quantizeInt8(
        UnsafeBufferPointer(rebasing: matrix[row * dim..<(row + 1) * dim]),
        into: UnsafeMutableBufferPointer(rebasing: quantized[row * dim..<(row + 1) * dim]))
    }
  }
}

// The error bounds of the `exact` mode's int8 pre-pass (CatalogRetrieval's prefilter), which skips
// a row only when its fp32 score provably cannot reach the top-k. For a row x with codes q and
// scale s (|x_j - s q_j| <= s/2 as quantizeInt8 rounds) and a query z with codes p and scale t,
//   x.z = (x - s q).z + s q.(z - t p) + s t (q.p),
// so by Cauchy-Schwarz |x.z - s t (q.p)| <= ||x - s q|| ||z|| + s ||q|| ||z - t p||. The fp32 scan's
// own rounding adds at most gamma_d sum|x_j z_j| <= gamma_d ||x|| ||z|| (any summation order, FMA
// or not, gamma_d = d u / (1 - d u), u = 2^-24), taken here as (2d + 4) u. So per row
//   residualNorm = ||x - s q|| + (2d + 4) u ||x||,   codeNorm = s ||q||
// (computed in Double, rounded up), per call queryNorm ~ ||z||, queryResidualNorm ~ ||z - t p||
// (enlarged by 2^-10 for the float products and sums of the bound itself), and the scan kernel
// adds |a| 2^-16 for the rounding of a = (s t) q.p in float and a tiny absolute term for products
// that underflow (recsys_scan.h). A row with a non-finite value gets infinite norms (always
// re-scored); overflow is the caller's to rule out (largest row norm times ||z||).

extension Kernels {
  /// Per-row norms of the pre-pass bound (above) for a table quantized by `quantizeRowsInt8`;
  /// returns the largest `||x_r||` over the rows whose values are all finite (0 for none).
  @discardableResult
  public static func int8ErrorNorms(
    _ matrix: UnsafeBufferPointer<Float>,  // [rows x dim]
    quantized: UnsafeBufferPointer<Int8>,  // [rows x dim]
    scales: UnsafeBufferPointer<Float>,  // [rows]
    rows: Int, dim: Int,
    residualNorms: UnsafeMutableBufferPointer<Float>,  // [rows]
    codeNorms: UnsafeMutableBufferPointer<Float>  // [rows]
  ) -> Float {
    requireCount(matrix.count, atLeast: rows * dim, "int8ErrorNorms: matrix too small")
    requireCount(quantized.count, atLeast: rows * dim, "int8ErrorNorms: quantized too small")
    requireCount(scales.count, atLeast: rows, "int8ErrorNorms: scales too small")
    requireCount(residualNorms.count, atLeast: rows, "int8ErrorNorms: residualNorms too small")
    requireCount(codeNorms.count, atLeast: rows, "int8ErrorNorms: codeNorms too small")
    let gamma = Double(2 * dim + 4) * 0x1p-24
    var largest: Float = 0
    for row in 0..<rows {
      let scale = Double(scales[row])
      var residual = 0.0, norm = 0.0, codes = 0.0, finite = true
      for j in row * dim..<(row + 1) * dim {
        let value = matrix[j]
        if !value.isFinite { finite = false }
        let code = Double(quantized[j])
        let difference = Double(value) - scale * code  // exact: both fit in 53 bits
        residual += difference * difference
        norm += Double(value) * Double(value)
        codes += code * code
      }
      guard finite else {
        (residualNorms[row], codeNorms[row]) = (.infinity, .infinity)
        continue
      }
      residualNorms[row] = roundedUp(residual.squareRoot() + gamma * norm.squareRoot())
      codeNorms[row] = roundedUp(scale * codes.squareRoot())
      largest = max(largest, roundedUp(norm.squareRoot()))
    }
    return largest
  }

  /// `(||z||, ||z - t p||)` enlarged for the bound's own float arithmetic (above), for a query `z`
  /// quantized as `p` with scale `t`; nil when z has a non-finite value (no bound holds).
  public static func int8QueryNorms(
    _ z: UnsafeBufferPointer<Float>, codes p: UnsafeBufferPointer<Int8>, scale t: Float
  ) -> (norm: Float, residualNorm: Float)? {
    requireCount(p.count, atLeast: z.count, "int8QueryNorms: codes too small")
    var norm = 0.0, residual = 0.0
    for (j, value) in z.enumerated() {
      guard value.isFinite else { return nil }
      let difference = Double(value) - Double(t) * Double(p[j])
      norm += Double(value) * Double(value)
      residual += difference * difference
    }
    let enlarge = 1 + 0x1p-10
    return (roundedUp(norm.squareRoot() * enlarge), roundedUp(residual.squareRoot() * enlarge))
  }

  /// The absolute term of the bound for dim-wide rows: products and sums that underflow lose up to
  /// 2^-150 each (about 2 dim + 16 of them); d 2^-120 is far more and still negligible unless
  /// scores themselves are that small (then every row is re-scored).
  public static func int8AbsoluteSlack(dim: Int) -> Float { Float(max(dim, 1)) * 0x1p-120 }

  /// The smallest Float not below `value` (a slightly larger one: Double to Float rounds to
  /// nearest, and one step up covers that).
  @inline(__always)
  static func roundedUp(_ value: Double) -> Float { Float(value * (1 + 0x1p-20)).nextUp }
}

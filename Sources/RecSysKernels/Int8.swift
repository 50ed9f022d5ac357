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

// nn.LayerNorm over the last dimension.

extension Kernels {
  /// `nn.LayerNorm(dim, eps)` applied to each row:
  /// `output = (x - mean) / sqrt(var + eps) * weight + bias`, with the biased variance
  /// (divide by `dim`), as PyTorch. Statistics are accumulated in Double. `output` may be the same
  /// memory as `input` (each row is read completely before it is written).
  public static func layerNorm(
    input: UnsafeBufferPointer<Float>,  // [rows x dim]
    rows: Int, dim: Int,
    weight: UnsafeBufferPointer<Float>,  // [dim]
    bias: UnsafeBufferPointer<Float>,  // [dim]
    eps: Float = 1e-5,
    output: UnsafeMutableBufferPointer<Float>  // [rows x dim]
  ) {
    requireMatrix(input.count, rows: rows, cols: dim, stride: max(1, dim), "layerNorm: input too small")
    requireMatrix(output.count, rows: rows, cols: dim, stride: max(1, dim), "layerNorm: output too small")
    requireCount(weight.count, atLeast: dim, "layerNorm: weight too small")
    requireCount(bias.count, atLeast: dim, "layerNorm: bias too small")
    if rows == 0 || dim == 0 { return }
    let x0 = input.baseAddress!
    let y0 = output.baseAddress!
    let w = weight.baseAddress!
    let b = bias.baseAddress!
    for r in 0..<rows {
      let x = x0 + r * dim
      let y = y0 + r * dim
      var sum = 0.0
      for j in 0..<dim { sum += Double(x[j]) }
      let mean = sum / Double(dim)
      var squares = 0.0
      for j in 0..<dim {
        let centered = Double(x[j]) - mean
        squares += centered * centered
      }
      let variance = squares / Double(dim)
      let inverseStd = Float(1 / (variance + Double(eps)).squareRoot())
      let meanF = Float(mean)
      for j in 0..<dim {
        y[j] = (x[j] - meanF) * inverseStd * w[j] + b[j]
      }
    }
  }
}

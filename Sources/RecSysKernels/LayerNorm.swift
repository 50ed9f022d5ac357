// nn.LayerNorm over the last dimension.

extension Kernels {
  /// Eight float lanes: the row sums below accumulate in these (two SSE registers at the baseline).
  typealias Lanes = SIMD8<Float>

  /// `nn.LayerNorm(dim, eps)` applied to each row:
  /// `output = (x - mean) / sqrt(var + eps) * weight + bias`, with the biased variance
  /// (divide by `dim`), as PyTorch. Mean and variance are two passes accumulated in float, eight
  /// lanes at a time, as PyTorch's CPU kernel does for float input (scalar Double sums were 5 % of a
  /// sasrec request under load). `output` may be the same memory as `input` (each row is read
  /// completely before it is written).
  public static func layerNorm(
    input: UnsafeBufferPointer<Float>,  // [rows x dim]
    rows: Int, dim: Int,
    weight: UnsafeBufferPointer<Float>,  // [dim]
    bias: UnsafeBufferPointer<Float>,  // [dim]
    eps: Float = 1e-5,
    output: UnsafeMutableBufferPointer<Float>  // [rows x dim]
  ) {
    requireMatrix(input.count, rows: rows, cols: dim, stride: max(1, dim), "layerNorm: input too small")
    if !requireNormOperands(rows: rows, dim: dim, weight: weight, bias: bias, output: output) { return }
    for r in 0..<rows {
      normalizeRow(
        input.baseAddress! + r * dim, dim: dim, weight: weight.baseAddress!, bias: bias.baseAddress!, eps: eps,
        output: output.baseAddress! + r * dim)
    }
  }

  /// A pre-LN block's seam: `residual += delta` (what a sub-layer adds to the stream), then
  /// `output = layerNorm(residual)`, as `add` followed by `layerNorm` but row by row, so each row is
  /// still in cache for the norm. `output` may be the same memory as `delta` (a row of `delta` is
  /// added before its output row is written) or as `residual`.
  public static func addLayerNorm(
    residual: UnsafeMutableBufferPointer<Float>,  // [rows x dim]
    adding delta: UnsafeBufferPointer<Float>,  // [rows x dim]
    rows: Int, dim: Int,
    weight: UnsafeBufferPointer<Float>,  // [dim]
    bias: UnsafeBufferPointer<Float>,  // [dim]
    eps: Float = 1e-5,
    output: UnsafeMutableBufferPointer<Float>  // [rows x dim]
  ) {
    requireMatrix(residual.count, rows: rows, cols: dim, stride: max(1, dim), "addLayerNorm: residual too small")
    requireMatrix(delta.count, rows: rows, cols: dim, stride: max(1, dim), "addLayerNorm: delta too small")
    if !requireNormOperands(rows: rows, dim: dim, weight: weight, bias: bias, output: output) { return }
    for r in 0..<rows {
      let x = residual.baseAddress! + r * dim
      let d = delta.baseAddress! + r * dim
      for j in 0..<dim { x[j] += d[j] }
      normalizeRow(
        x, dim: dim, weight: weight.baseAddress!, bias: bias.baseAddress!, eps: eps,
        output: output.baseAddress! + r * dim)
    }
  }

  /// The checks `layerNorm` and `addLayerNorm` share; false when there is nothing to compute.
  static func requireNormOperands(
    rows: Int, dim: Int, weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>
  ) -> Bool {
    requireMatrix(output.count, rows: rows, cols: dim, stride: max(1, dim), "layerNorm: output too small")
    requireCount(weight.count, atLeast: dim, "layerNorm: weight too small")
    requireCount(bias.count, atLeast: dim, "layerNorm: bias too small")
    return rows > 0 && dim > 0
  }

  /// One row of `layerNorm`: reads `x` completely before writing `y` (they may be the same memory).
  @inline(__always)
  static func normalizeRow(
    _ x: UnsafePointer<Float>, dim: Int, weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>, eps: Float,
    output y: UnsafeMutablePointer<Float>
  ) {
    let mean = rowSum(x, dim) { $0 } / Float(dim)
    let meanLanes = Lanes(repeating: mean)
    let variance = rowSum(x, dim) { ($0 - meanLanes) * ($0 - meanLanes) } / Float(dim)
    let inverseStd = 1 / (variance + eps).squareRoot()
    for j in 0..<dim {
      y[j] = (x[j] - mean) * inverseStd * w[j] + b[j]
    }
  }

  /// `sum(f(x[i]))` over `0..<count`, eight lanes at a time; the tail is mapped as one zero-padded
  /// vector of which only the real lanes are added.
  @inline(__always)
  static func rowSum(_ x: UnsafePointer<Float>, _ count: Int, _ f: (Lanes) -> Lanes) -> Float {
    var acc = Lanes()
    var j = 0
    while j + 8 <= count {
      acc += f(UnsafeRawPointer(x + j).loadUnaligned(as: Lanes.self))
      j += 8
    }
    var total = acc.sum()
    if j < count {
      var tail = Lanes()
      for k in 0..<(count - j) { tail[k] = x[j + k] }
      let mapped = f(tail)
      for k in 0..<(count - j) { total += mapped[k] }
    }
    return total
  }
}

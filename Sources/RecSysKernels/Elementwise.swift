// Element-wise and per-row operations, in place: activations, bias, residual add, softmax.

extension Kernels {
  /// `nn.ReLU` in place: `x = max(x, 0)`. NaN stays NaN (as in PyTorch).
  public static func relu(
    _ values: UnsafeMutableBufferPointer<Float>  // [count]
  ) {
    // A select, not a branch: mixed-sign activations mispredicted the branch, and this form
    // vectorises. NaN < 0 is false, so NaN stays NaN.
    for i in values.indices { values[i] = values[i] < 0 ? 0 : values[i] }
  }

  /// `matrix[r, :] += bias` for every row.
  public static func addBias(
    _ matrix: UnsafeMutableBufferPointer<Float>,  // [rows x cols]
    bias: UnsafeBufferPointer<Float>,  // [cols]
    rows: Int, cols: Int
  ) {
    requireMatrix(matrix.count, rows: rows, cols: cols, stride: max(1, cols), "addBias: matrix too small")
    requireCount(bias.count, atLeast: cols, "addBias: bias too small")
    if rows == 0 || cols == 0 { return }
    addBias(matrix.baseAddress!, bias.baseAddress!, rows: rows, cols: cols, stride: cols)
  }

  /// `values += alpha * other` element-wise over `values.count` elements (residual connections,
  /// `item_emb[h] + event_emb[type]`, position embeddings); `other` must be at least as long.
  public static func add(
    _ values: UnsafeMutableBufferPointer<Float>,  // [count]
    _ other: UnsafeBufferPointer<Float>,  // [count]
    scaledBy alpha: Float = 1
  ) {
    requireCount(other.count, atLeast: values.count, "add: other shorter than values")
    if alpha == 1 {
      for i in values.indices { values[i] += other[i] }
    } else {
      for i in values.indices { values[i] += alpha * other[i] }
    }
  }

  /// `values *= factor` element-wise.
  public static func scale(
    _ values: UnsafeMutableBufferPointer<Float>,  // [count]
    by factor: Float
  ) {
    for i in values.indices { values[i] *= factor }
  }

  /// Numerically stable softmax over the whole buffer, in place (`exp(x - max) / sum`), as
  /// `torch.softmax` on one row. Empty: nothing. As in PyTorch, a NaN anywhere, or a row of all
  /// `-inf`, yields NaNs. For a matrix, call it once per row (on a rebased slice).
  public static func softmax(
    _ values: UnsafeMutableBufferPointer<Float>  // [count]
  ) {
    if values.isEmpty { return }
    var maximum = -Float.infinity
    for v in values where v > maximum { maximum = v }
    for i in values.indices { values[i] -= maximum }
    exp(values)
    var sum: Float = 0
    for v in values { sum += v }
    let inverse = 1 / sum
    for i in values.indices { values[i] *= inverse }
  }
}

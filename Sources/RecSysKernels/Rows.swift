// Embedding lookups: copy or average selected rows of a table such as item_emb.weight.

extension Kernels {
  /// `output[i, :] = matrix[rowIndices[i], :]` (`nn.Embedding` lookup). Every index must be a row of
  /// `matrix` (`0 <= index < matrix.count / dim`).
  public static func gatherRows(
    matrix: UnsafeBufferPointer<Float>,  // [N x dim]
    rowIndices: UnsafeBufferPointer<Int32>,  // [n]
    dim: Int,
    output: UnsafeMutableBufferPointer<Float>  // [n x dim]
  ) {
    precondition(dim >= 0, "negative dimension")
    requireCount(output.count, atLeast: rowIndices.count * dim, "gatherRows: output too small")
    if dim == 0 || rowIndices.isEmpty { return }
    let tableRows = matrix.count / dim
    let source = matrix.baseAddress
    let destination = output.baseAddress!
    for (i, index) in rowIndices.enumerated() {
      precondition(index >= 0 && Int(index) < tableRows, "gatherRows: row index out of range")
      (destination + i * dim).update(from: source! + Int(index) * dim, count: dim)
    }
  }

  /// `output = mean(matrix[rowIndices], dim 0)` (the user vector of a history); zeros when
  /// `rowIndices` is empty. Repeated indices count repeatedly. Sums in float, then divides, as
  /// `torch.mean`.
  public static func meanOfRows(
    matrix: UnsafeBufferPointer<Float>,  // [N x dim]
    rowIndices: UnsafeBufferPointer<Int32>,  // [n]
    dim: Int,
    output: UnsafeMutableBufferPointer<Float>  // [dim]
  ) {
    precondition(dim >= 0, "negative dimension")
    requireCount(output.count, atLeast: dim, "meanOfRows: output too small")
    if dim == 0 { return }
    let y = output.baseAddress!
    y.update(repeating: 0, count: dim)
    if rowIndices.isEmpty { return }
    let tableRows = matrix.count / dim
    let source = matrix.baseAddress
    for index in rowIndices {
      precondition(index >= 0 && Int(index) < tableRows, "meanOfRows: row index out of range")
      let row = source! + Int(index) * dim
      for j in 0..<dim { y[j] += row[j] }
    }
    let count = Float(rowIndices.count)
    for j in 0..<dim { y[j] /= count }
  }
}

extension Kernels {
  /// `output[i] = matrix[rowIndices[i], :] · vector`: scoring a request's candidates against a user
  /// vector. Every index must be a row of `matrix`.
  ///
  /// Why not one `dot` per row: the candidates' rows are scattered over the table and each row is a
  /// cache miss; a call per row serialises those misses behind call overhead (sdot was 12 % of a
  /// sasrec_500 request under load). Here blocks of rows are first copied in a tight loop (the CPU
  /// overlaps the misses), then scored with one GEMV per block (16 KiB of rows, L1-resident).
  public static func dotRows(
    matrix: UnsafeBufferPointer<Float>,  // [N x dim]
    rowIndices: UnsafeBufferPointer<Int32>,  // [n]
    vector: UnsafeBufferPointer<Float>,  // [dim]
    dim: Int,
    output: UnsafeMutableBufferPointer<Float>  // [n]
  ) {
    precondition(dim >= 0, "negative dimension")
    requireCount(vector.count, atLeast: dim, "dotRows: vector too small")
    requireCount(output.count, atLeast: rowIndices.count, "dotRows: output too small")
    if rowIndices.isEmpty { return }
    if dim == 0 {
      output.baseAddress!.update(repeating: 0, count: rowIndices.count)
      return
    }
    let blockRows = max(1, 4096 / dim)
    withUnsafeTemporaryAllocation(of: Float.self, capacity: blockRows * dim) { block in
      var start = 0
      while start < rowIndices.count {
        let count = min(blockRows, rowIndices.count - start)
        gatherRows(
          matrix: matrix, rowIndices: UnsafeBufferPointer(rebasing: rowIndices[start..<start + count]), dim: dim,
          output: block)
        gemv(
          matrix: UnsafeBufferPointer(block), vector: vector,
          output: UnsafeMutableBufferPointer(rebasing: output[start..<start + count]), rows: count, columns: dim)
        start += count
      }
    }
  }
}

// Embedding lookups: copy or average selected rows of a table such as item_emb.weight.

import CRecSysMath

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
    requireRows(rowIndices, of: matrix, dim: dim, "gatherRows: row index out of range")
    // recsys_rows.h: prefetches the rows a few indices ahead (they are scattered cache misses).
    recsys_gather_rows(matrix.baseAddress!, dim, rowIndices.baseAddress!, rowIndices.count, output.baseAddress!)
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
    requireRows(rowIndices, of: matrix, dim: dim, "meanOfRows: row index out of range")
    let source = matrix.baseAddress
    for index in rowIndices {
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
  /// Why in C (recsys_rows.h): the candidates' rows are scattered over the table and each is a
  /// cache miss. A call per row serialised those misses behind call overhead (sdot, 12 % of a
  /// sasrec_500 request); copying blocks of rows for one GEMV each cost the copy (the gather's
  /// memmove was 15-18 % of the candidate points, issue 19). The C loop dots each row where it lies,
  /// with the rows a few indices ahead prefetched.
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
    requireRows(rowIndices, of: matrix, dim: dim, "dotRows: row index out of range")
    recsys_dot_rows(
      matrix.baseAddress!, dim, rowIndices.baseAddress!, rowIndices.count, vector.baseAddress!, output.baseAddress!)
  }

  /// Every index is a row of `matrix` (`0 <= index < matrix.count / dim`, dim > 0): the C loops
  /// trust it.
  @inline(__always)
  static func requireRows(
    _ rowIndices: UnsafeBufferPointer<Int32>, of matrix: UnsafeBufferPointer<Float>, dim: Int, _ name: StaticString
  ) {
    let tableRows = matrix.count / dim
    for index in rowIndices { precondition(index >= 0 && Int(index) < tableRows, "\(name)") }
  }
}

extension Kernels {
  /// `output[i, :] = matrix[rowIndices[i], :] + vector`, then `max(·, 0)` when `relu`: a gather
  /// and a broadcast add in one pass (mlp's layer 1 from its per-item cache: the item block of
  /// each candidate plus the block shared by all). Every index must be a row of `matrix`.
  public static func gatherRowsAdding(
    matrix: UnsafeBufferPointer<Float>,  // [N x dim]
    rowIndices: UnsafeBufferPointer<Int32>,  // [n]
    vector: UnsafeBufferPointer<Float>,  // [dim]
    dim: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [n x dim]
    relu applyingReLU: Bool = false
  ) {
    precondition(dim >= 0, "negative dimension")
    requireCount(vector.count, atLeast: dim, "gatherRowsAdding: vector too small")
    requireCount(output.count, atLeast: rowIndices.count * dim, "gatherRowsAdding: output too small")
    if dim == 0 || rowIndices.isEmpty { return }
    requireRows(rowIndices, of: matrix, dim: dim, "gatherRowsAdding: row index out of range")
    recsys_gather_rows_adding(
      matrix.baseAddress!, dim, rowIndices.baseAddress!, rowIndices.count, vector.baseAddress!,
      applyingReLU ? 1 : 0, output.baseAddress!)
  }
}

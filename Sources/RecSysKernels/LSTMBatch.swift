// One nn.LSTM layer over a batch of equally long sequences in lockstep (explanations by
// occlusion: the L one-event-removed histories of a request at once).

extension Kernels {
  /// `batch` sequences of `steps` steps through one layer of `nn.LSTM` (zero initial state), in
  /// lockstep, time-major: row `t * batch + b` is step t of sequence b. Same math as `lstmLayer`,
  /// but each step's recurrent product is one GEMM over the batch (`h_{t-1} [batch x H] · W_hh^T`)
  /// instead of one GEMV per sequence.
  ///
  /// `gates` holds the input side on entry, `x_t · W_ih^T + b_ih + b_hh` for every row
  /// (`[steps * batch x 4H]`; a caller whose sequences share their events projects each event once
  /// and gathers), and is consumed. `cell` is `[batch x H]` scratch. `output` gets `h_t` for every
  /// row. `steps == 0` or `batch == 0` writes nothing.
  public static func lstmLayerBatch(
    gates: UnsafeMutableBufferPointer<Float>,  // [steps*batch x 4H]
    weightHH: UnsafeBufferPointer<Float>,  // [4H x H]   (lstm.weight_hh_l{k})
    steps: Int, batch: Int, hidden: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [steps*batch x H]
    cell: UnsafeMutableBufferPointer<Float>  // [batch x H]
  ) {
    let h4 = 4 * hidden
    let rows = steps * batch
    requireMatrix(gates.count, rows: rows, cols: h4, stride: max(1, h4), "lstmLayerBatch: gates too small")
    requireMatrix(weightHH.count, rows: h4, cols: hidden, stride: max(1, hidden), "lstmLayerBatch: weightHH too small")
    requireMatrix(output.count, rows: rows, cols: hidden, stride: max(1, hidden), "lstmLayerBatch: output too small")
    requireCount(cell.count, atLeast: batch * hidden, "lstmLayerBatch: cell too small")
    if rows == 0 || hidden == 0 { return }
    cell.baseAddress!.update(repeating: 0, count: batch * hidden)
    let stepFloats = batch * h4
    for t in 0..<steps {
      let block = gates.baseAddress! + t * stepFloats
      if t > 0 {
        // gates_t += h_{t-1} · W_hh^T, all sequences at once.
        gemm(
          transposeA: false, transposeB: true, m: batch, n: h4, k: hidden,
          a: UnsafeBufferPointer(start: output.baseAddress! + (t - 1) * batch * hidden, count: batch * hidden),
          lda: hidden, b: weightHH, ldb: hidden, beta: 1,
          c: UnsafeMutableBufferPointer(start: block, count: stepFloats), ldc: h4)
      }
      for b in 0..<batch {
        let g = block + b * h4
        sigmoid(UnsafeMutableBufferPointer(start: g, count: 2 * hidden))
        tanh(UnsafeMutableBufferPointer(start: g + 2 * hidden, count: hidden))
        sigmoid(UnsafeMutableBufferPointer(start: g + 3 * hidden, count: hidden))
        let c = cell.baseAddress! + b * hidden
        let h = output.baseAddress! + (t * batch + b) * hidden
        for j in 0..<hidden {
          let value = g[hidden + j] * c[j] + g[j] * g[2 * hidden + j]
          c[j] = value
          h[j] = value
        }
        tanh(UnsafeMutableBufferPointer(start: h, count: hidden))
        for j in 0..<hidden { h[j] *= g[3 * hidden + j] }
      }
    }
  }
}

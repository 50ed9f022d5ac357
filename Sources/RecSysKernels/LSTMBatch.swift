// One nn.LSTM layer over a batch of sequences in lockstep (explanations by occlusion: the
// one-event-removed histories of a request at once).

extension Kernels {
  /// `batch` sequences of `steps` steps through one layer of `nn.LSTM` (zero initial state), in
  /// lockstep, time-major: row `t * batch + b` is step t of sequence b. `lstmLayerSequences` with
  /// every step's batch the same; see there.
  public static func lstmLayerBatch(
    gates: UnsafeMutableBufferPointer<Float>,  // [steps*batch x 4H]
    weightHH: UnsafeBufferPointer<Float>,  // [4H x H]   (lstm.weight_hh_l{k})
    steps: Int, batch: Int, hidden: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [steps*batch x H]
    cell: UnsafeMutableBufferPointer<Float>  // [batch x H]
  ) {
    requireCount(cell.count, atLeast: batch * hidden, "lstmLayerBatch: cell too small")
    cell.baseAddress?.update(repeating: 0, count: batch * hidden)
    let stepBatches = [Int](repeating: batch, count: batch == 0 ? 0 : steps)
    stepBatches.withUnsafeBufferPointer {
      lstmLayerSequences(gates: gates, weightHH: weightHH, hidden: hidden, stepBatches: $0, output: output, cell: cell)
    }
  }

  /// Sequences of different lengths through one layer of `nn.LSTM`, in lockstep: at step t the
  /// first `stepBatches[t]` sequences run (non-increasing, so the sequences still running are
  /// always a prefix of the batch: order them longest first). Rows are time-major and packed: step
  /// t's rows follow step t-1's, row `offset(t) + b` is step t of sequence b. Same math as
  /// `lstmLayer`, but each step's recurrent product is one GEMM over the running sequences
  /// (`h_{t-1} [running x H] · W_hhᵀ`) instead of one GEMV per sequence.
  ///
  /// `gates` holds the input side on entry, `x_t · W_ih^T + b_ih + b_hh` for every row (a caller
  /// whose sequences share events projects each event once and gathers), and is consumed.
  /// `cell` (`[stepBatches[0] x H]`) holds each sequence's initial c on entry and its last c on
  /// exit; `initialHidden` (`[stepBatches[0] x H]`) each sequence's initial h, nil for zeros: a
  /// sequence can thus continue from another run's state at some step (an occluded history from
  /// the full history's state just before the removed event). With `cellStates` (`[rows x H]`),
  /// every row's c_t is kept too, for such continuations. `output` gets every row's h_t.
  public static func lstmLayerSequences(
    gates: UnsafeMutableBufferPointer<Float>,  // [rows x 4H]
    weightHH: UnsafeBufferPointer<Float>,  // [4H x H]
    hidden: Int,
    stepBatches: UnsafeBufferPointer<Int>,  // [steps], non-increasing
    output: UnsafeMutableBufferPointer<Float>,  // [rows x H]
    cell: UnsafeMutableBufferPointer<Float>,  // [stepBatches[0] x H], in and out
    initialHidden: UnsafeBufferPointer<Float>? = nil,  // [stepBatches[0] x H]
    cellStates: UnsafeMutableBufferPointer<Float>? = nil  // [rows x H]
  ) {
    let h4 = 4 * hidden
    let rows = stepBatches.reduce(0, +)
    let widest = stepBatches.first ?? 0
    for t in stepBatches.indices.dropFirst() {
      precondition(stepBatches[t] >= 0 && stepBatches[t] <= stepBatches[t - 1], "lstmLayerSequences: stepBatches must not grow")
    }
    requireMatrix(gates.count, rows: rows, cols: h4, stride: max(1, h4), "lstmLayerSequences: gates too small")
    requireMatrix(weightHH.count, rows: h4, cols: hidden, stride: max(1, hidden), "lstmLayerSequences: weightHH too small")
    requireMatrix(output.count, rows: rows, cols: hidden, stride: max(1, hidden), "lstmLayerSequences: output too small")
    requireCount(cell.count, atLeast: widest * hidden, "lstmLayerSequences: cell too small")
    if let initialHidden { requireCount(initialHidden.count, atLeast: widest * hidden, "lstmLayerSequences: initialHidden too small") }
    if let cellStates { requireCount(cellStates.count, atLeast: rows * hidden, "lstmLayerSequences: cellStates too small") }
    if rows == 0 || hidden == 0 { return }
    var offset = 0
    var previous: UnsafePointer<Float>? = initialHidden?.baseAddress  // h_{t-1} of sequence 0, rows follow
    for running in stepBatches {
      let block = gates.baseAddress! + offset * h4
      if let previous, running > 0 {
        // gates_t += h_{t-1} · W_hh^T, every running sequence at once.
        gemm(
          transposeA: false, transposeB: true, m: running, n: h4, k: hidden,
          a: UnsafeBufferPointer(start: previous, count: running * hidden), lda: hidden, b: weightHH, ldb: hidden,
          beta: 1, c: UnsafeMutableBufferPointer(start: block, count: running * h4), ldc: h4)
      }
      for b in 0..<running {
        let g = block + b * h4
        sigmoid(UnsafeMutableBufferPointer(start: g, count: 2 * hidden))
        tanh(UnsafeMutableBufferPointer(start: g + 2 * hidden, count: hidden))
        sigmoid(UnsafeMutableBufferPointer(start: g + 3 * hidden, count: hidden))
        let c = cell.baseAddress! + b * hidden
        let h = output.baseAddress! + (offset + b) * hidden
        for j in 0..<hidden {
          let value = g[hidden + j] * c[j] + g[j] * g[2 * hidden + j]
          c[j] = value
          h[j] = value
        }
        cellStates?.baseAddress!.advanced(by: (offset + b) * hidden).update(from: c, count: hidden)
        tanh(UnsafeMutableBufferPointer(start: h, count: hidden))
        for j in 0..<hidden { h[j] *= g[3 * hidden + j] }
      }
      previous = UnsafePointer(output.baseAddress! + offset * hidden)
      offset += running
    }
  }
}

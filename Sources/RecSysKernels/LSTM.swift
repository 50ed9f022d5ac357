// One layer of nn.LSTM (batch_first, batch 1, zero initial state).

extension Kernels {
  /// Floats of scratch `lstmLayer` needs: the gate pre-activations of every step (`steps x 4H`)
  /// plus the cell state (`H`).
  public static func lstmScratchCount(steps: Int, hidden: Int) -> Int {
    precondition(steps >= 0 && hidden >= 0, "negative dimension")
    return steps * 4 * hidden + hidden
  }

  /// One layer of `nn.LSTM(inputSize, hidden, batch_first=True)` over one sequence, zero initial
  /// `h` and `c`; writes `h_t` for every step. PyTorch gate order i, f, g, o:
  ///
  ///     gates_t = x_t · weightIH^T + biasIH + h_{t-1} · weightHH^T + biasHH      [4H]
  ///     i, f, g, o = sigmoid(gates[0H..<1H]), sigmoid(gates[1H..<2H]),
  ///                  tanh(gates[2H..<3H]), sigmoid(gates[3H..<4H])
  ///     c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)
  ///
  /// The input projections of all steps are one GEMM up front; each step then adds one GEMV
  /// (`weightHH · h_{t-1}`, skipped at t = 0 where h is zero). Stack layers by feeding one layer's
  /// `output` as the next layer's `input`. `output` may be the same memory as `input` (the input is
  /// fully consumed by the first GEMM). `steps == 0` writes nothing.
  ///
  /// `isCancelled` is polled before every step (the recurrence is the long serial part of a
  /// sequence request); when it returns true the layer stops, `output` is incomplete and the result
  /// is false. Otherwise returns true.
  @discardableResult
  public static func lstmLayer(
    input: UnsafeBufferPointer<Float>,  // [steps x inputSize]
    weightIH: UnsafeBufferPointer<Float>,  // [4H x inputSize]   (lstm.weight_ih_l{k})
    weightHH: UnsafeBufferPointer<Float>,  // [4H x H]           (lstm.weight_hh_l{k})
    biasIH: UnsafeBufferPointer<Float>,  // [4H]
    biasHH: UnsafeBufferPointer<Float>,  // [4H]
    steps: Int, inputSize: Int, hidden: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [steps x H]
    scratch: UnsafeMutableBufferPointer<Float>,  // [lstmScratchCount(steps:hidden:)]
    isCancelled: () -> Bool = { false }
  ) -> Bool {
    let h4 = 4 * hidden
    requireMatrix(
      input.count, rows: steps, cols: inputSize, stride: max(1, inputSize), "lstmLayer: input too small")
    requireMatrix(
      weightIH.count, rows: h4, cols: inputSize, stride: max(1, inputSize), "lstmLayer: weightIH too small")
    requireMatrix(
      weightHH.count, rows: h4, cols: hidden, stride: max(1, hidden), "lstmLayer: weightHH too small")
    requireCount(biasIH.count, atLeast: h4, "lstmLayer: biasIH too small")
    requireCount(biasHH.count, atLeast: h4, "lstmLayer: biasHH too small")
    requireMatrix(
      output.count, rows: steps, cols: hidden, stride: max(1, hidden), "lstmLayer: output too small")
    requireCount(
      scratch.count, atLeast: lstmScratchCount(steps: steps, hidden: hidden), "lstmLayer: scratch too small")
    if steps == 0 || hidden == 0 { return true }

    let gates = UnsafeMutableBufferPointer(start: scratch.baseAddress!, count: steps * h4)
    let cell = scratch.baseAddress! + steps * h4
    // All input projections at once: gates = input · W_ih^T + b_ih, then + b_hh.
    linear(
      input: input, weight: weightIH, bias: biasIH, output: gates,
      rows: steps, inFeatures: inputSize, outFeatures: h4)
    addBias(gates.baseAddress!, biasHH.baseAddress!, rows: steps, cols: h4, stride: h4)
    cell.update(repeating: 0, count: hidden)

    let h0 = output.baseAddress!
    for t in 0..<steps {
      if isCancelled() { return false }
      let g = gates.baseAddress! + t * h4
      if t > 0 {
        gemv(
          matrix: weightHH, vector: UnsafeBufferPointer(start: h0 + (t - 1) * hidden, count: hidden),
          output: UnsafeMutableBufferPointer(start: g, count: h4),
          rows: h4, columns: hidden, beta: 1)
      }
      // Activations a gate block at a time, vectorised (Transcendental.swift): i and f are
      // contiguous, then g, then o.
      sigmoid(UnsafeMutableBufferPointer(start: g, count: 2 * hidden))
      tanh(UnsafeMutableBufferPointer(start: g + 2 * hidden, count: hidden))
      sigmoid(UnsafeMutableBufferPointer(start: g + 3 * hidden, count: hidden))
      let h = h0 + t * hidden
      for j in 0..<hidden {
        let c = g[hidden + j] * cell[j] + g[j] * g[2 * hidden + j]
        cell[j] = c
        h[j] = c
      }
      tanh(UnsafeMutableBufferPointer(start: h, count: hidden))
      for j in 0..<hidden { h[j] *= g[3 * hidden + j] }
    }
    return true
  }
}

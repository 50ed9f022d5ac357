// One layer of nn.LSTM (batch_first, batch 1, zero initial state).

import CRecSysMath

extension Kernels {
  /// A layer's `weight_hh` repacked once, at load, for `lstmLayer`'s fused step (CRecSysMath's
  /// recsys_lstm.h): per block of 16 hidden units and per input unit, the four gates' 16 weights
  /// side by side, so a step reads W_hh once, front to back, and keeps the gates in registers.
  /// The one kernel value that owns memory: `4 x H` rounded up to 16 `x H` floats.
  public struct LSTMRecurrentWeights: Sendable {
    public let hidden: Int
    let packed: [Float]

    public init(
      weightHH: UnsafeBufferPointer<Float>,  // [4H x H]   (lstm.weight_hh_l{k})
      hidden: Int
    ) {
      precondition(hidden >= 0, "negative dimension")
      requireMatrix(
        weightHH.count, rows: 4 * hidden, cols: hidden, stride: max(1, hidden), "LSTMRecurrentWeights: weightHH too small")
      self.hidden = hidden
      packed = [Float](unsafeUninitializedCapacity: recsys_lstm_packed_count(hidden)) { buffer, count in
        if hidden > 0 { recsys_lstm_pack(weightHH.baseAddress!, hidden, buffer.baseAddress!) }
        count = buffer.count
      }
    }
  }

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
  /// The input projections of all steps are one GEMM up front; each step is then one fused pass
  /// (`recsys_lstm_step`): `W_hh · h_{t-1}` (skipped at t = 0 where h is zero), the activations and
  /// the c and h updates, a block of 16 hidden units at a time. Why not a GEMV plus activation passes
  /// per step: the steps are dependent, and the per-step BLAS call and the five passes over the gates
  /// were most of an lstm request's distance from its roofline (issue 19). Stack layers by feeding
  /// one layer's `output` as the next layer's `input`. `output` may be the same memory as `input` (the input is
  /// fully consumed by the first GEMM). `steps == 0` writes nothing.
  ///
  /// `isCancelled` is polled before every step (the recurrence is the long serial part of a
  /// sequence request); when it returns true the layer stops, `output` is incomplete and the result
  /// is false. Otherwise returns true.
  @discardableResult
  public static func lstmLayer(
    input: UnsafeBufferPointer<Float>,  // [steps x inputSize]
    weightIH: UnsafeBufferPointer<Float>,  // [4H x inputSize]   (lstm.weight_ih_l{k})
    recurrent: LSTMRecurrentWeights,  // lstm.weight_hh_l{k}, packed
    biasIH: UnsafeBufferPointer<Float>,  // [4H]
    biasHH: UnsafeBufferPointer<Float>,  // [4H]
    steps: Int, inputSize: Int, hidden: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [steps x H]
    scratch: UnsafeMutableBufferPointer<Float>,  // [lstmScratchCount(steps:hidden:)]
    isCancelled: () -> Bool = { false }
  ) -> Bool {
    let h4 = 4 * hidden
    requireMatrix(
      weightIH.count, rows: h4, cols: inputSize, stride: max(1, inputSize), "lstmLayer: weightIH too small")
    requireCount(biasIH.count, atLeast: h4, "lstmLayer: biasIH too small")
    requireLayerBuffers(
      input: input, inputSize: inputSize, recurrent: recurrent, biasHH: biasHH, steps: steps, hidden: hidden,
      output: output, scratch: scratch)
    if steps == 0 || hidden == 0 { return true }

    let gates = UnsafeMutableBufferPointer(start: scratch.baseAddress!, count: steps * h4)
    // All input projections at once: gates = input · W_ih^T + b_ih, then + b_hh.
    linear(
      input: input, weight: weightIH, bias: biasIH, output: gates,
      rows: steps, inFeatures: inputSize, outFeatures: h4)
    return lstmRecurrence(
      gates: gates, recurrent: recurrent, biasHH: biasHH, steps: steps, hidden: hidden, output: output,
      cell: scratch.baseAddress! + steps * h4, isCancelled: isCancelled)
  }

  /// `lstmLayer` with the input projection prepared at load (`PreparedLinear` over `weight_ih` and
  /// `bias_ih`, `inputSize -> 4H`): the same layer, its one up-front GEMM on the register-tiled
  /// kernel instead of OpenBLAS, which packs both operands on every call (most of that GEMM at
  /// 50 steps x 64 inputs, lstm_B's profile, issue 19).
  @discardableResult
  public static func lstmLayer(
    input: UnsafeBufferPointer<Float>,  // [steps x inputSize]
    inputProjection: PreparedLinear,  // inputSize -> 4H (lstm.weight_ih_l{k}, lstm.bias_ih_l{k})
    recurrent: LSTMRecurrentWeights,  // lstm.weight_hh_l{k}, packed
    biasHH: UnsafeBufferPointer<Float>,  // [4H]
    steps: Int, hidden: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [steps x H]
    scratch: UnsafeMutableBufferPointer<Float>,  // [lstmScratchCount(steps:hidden:)]
    isCancelled: () -> Bool = { false }
  ) -> Bool {
    let h4 = 4 * hidden
    precondition(inputProjection.outFeatures == h4, "lstmLayer: input projection must map to 4 * hidden")
    requireLayerBuffers(
      input: input, inputSize: inputProjection.inFeatures, recurrent: recurrent, biasHH: biasHH, steps: steps,
      hidden: hidden, output: output, scratch: scratch)
    if steps == 0 || hidden == 0 { return true }

    let gates = UnsafeMutableBufferPointer(start: scratch.baseAddress!, count: steps * h4)
    inputProjection.apply(input: input, rows: steps, output: gates)
    return lstmRecurrence(
      gates: gates, recurrent: recurrent, biasHH: biasHH, steps: steps, hidden: hidden, output: output,
      cell: scratch.baseAddress! + steps * h4, isCancelled: isCancelled)
  }

  /// What both `lstmLayer`s need besides their input projection's weights.
  private static func requireLayerBuffers(
    input: UnsafeBufferPointer<Float>, inputSize: Int, recurrent: LSTMRecurrentWeights,
    biasHH: UnsafeBufferPointer<Float>, steps: Int, hidden: Int, output: UnsafeMutableBufferPointer<Float>,
    scratch: UnsafeMutableBufferPointer<Float>
  ) {
    requireMatrix(
      input.count, rows: steps, cols: inputSize, stride: max(1, inputSize), "lstmLayer: input too small")
    precondition(recurrent.hidden == hidden, "lstmLayer: recurrent weights packed for another hidden size")
    requireCount(biasHH.count, atLeast: 4 * hidden, "lstmLayer: biasHH too small")
    requireMatrix(
      output.count, rows: steps, cols: hidden, stride: max(1, hidden), "lstmLayer: output too small")
    requireCount(
      scratch.count, atLeast: lstmScratchCount(steps: steps, hidden: hidden), "lstmLayer: scratch too small")
  }

  /// Both `lstmLayer`s after their input projection: adds b_hh to `gates` (`[steps x 4H]`, x_t · W_ih^T
  /// + b_ih) and runs the fused steps.
  private static func lstmRecurrence(
    gates: UnsafeMutableBufferPointer<Float>, recurrent: LSTMRecurrentWeights, biasHH: UnsafeBufferPointer<Float>,
    steps: Int, hidden: Int, output: UnsafeMutableBufferPointer<Float>, cell: UnsafeMutablePointer<Float>,
    isCancelled: () -> Bool
  ) -> Bool {
    let h4 = 4 * hidden
    addBias(gates.baseAddress!, biasHH.baseAddress!, rows: steps, cols: h4, stride: h4)
    cell.update(repeating: 0, count: hidden)
    var finishedSteps = 0

    let h0 = output.baseAddress!
    recurrent.packed.withUnsafeBufferPointer { packed in
      for t in 0..<steps {
        if isCancelled() { return }
        let previous = t == 0 ? nil : UnsafePointer(h0 + (t - 1) * hidden)
        recsys_lstm_step(packed.baseAddress!, hidden, gates.baseAddress! + t * h4, previous, cell, h0 + t * hidden)
        finishedSteps = t + 1
      }
    }
    return finishedSteps == steps
  }
}

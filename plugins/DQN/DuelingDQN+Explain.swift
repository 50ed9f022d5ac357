import PluginAPI
import RecSysKernels

/// Explanations (issue 17) by occlusion over the kept history.
///
/// The state's two history parts have closed forms per removed event j: the mean is
/// (Σe − e_j)/(n − 1), the last event is e_{n−1} unless j is it (then e_{n−2}, or zeros). The
/// 1 + n states run through `state` as one GEMM per layer. A returned item's Q also depends on the
/// mean advantage over every scored candidate, so that mean is recomputed per state (the
/// candidates' item blocks are precomputed at load; this is n x candidates x h multiply-adds);
/// only the returned items' Q-values are formed.
extension DuelingDQN {
  public static let explains = true

  public func explain(_ request: Request, into explanation: inout Explanation) throws {
    try request.requireContext(count: contextDimension)
    guard let input = try catalog.occlusionInput(request, maxHistory: maxHistory, explaining: explanation) else { return }
    let kept = input.kept
    let itemRows = input.itemRows
    let n = kept.count
    let k = itemRows.count
    let candidateRows = request.candidateItemIDs.compactMap { catalog.row(of: $0) }
    if candidateRows.isEmpty { return }
    let d = items.dimension
    let itemEmbedding = items.embedding
    let stateInputs = 2 * d + contextDimension
    let variants = 1 + n
    let hidden = advantageHidden.outputs

    // States: row 0 the kept history, row 1 + j without kept event j.
    var states = [Float](repeating: 0, count: variants * stateInputs)
    var sum = [Float](repeating: 0, count: d)
    for row in kept.rows {
      for c in 0..<d { sum[c] += itemEmbedding[Int(row) * d + c] }
    }
    func embedding(_ j: Int, _ c: Int) -> Float { itemEmbedding[Int(kept.rows[j]) * d + c] }
    for v in 0..<variants {
      let removed = v - 1  // -1: none
      let base = v * stateInputs
      let remaining = removed < 0 ? n : n - 1
      let last = removed == n - 1 ? n - 2 : n - 1
      for c in 0..<d {
        if remaining > 0 {
          states[base + c] = (removed < 0 ? sum[c] : sum[c] - embedding(removed, c)) / Float(remaining)
        }
        if last >= 0 { states[base + d + c] = embedding(last, c) }
      }
      for c in 0..<contextDimension { states[base + 2 * d + c] = request.context[c] }
    }

    // g = state(s) over all states at once.
    let widest = max(widestState, stateInputs)
    var activations = [Float](repeating: 0, count: variants * widest)
    var next = [Float](repeating: 0, count: variants * widest)
    activations.replaceSubrange(0..<states.count, with: states)
    let stateOutput = try activations.withUnsafeMutableBufferPointer { activations in
      try next.withUnsafeMutableBufferPointer { next in
        Array(try LinearLayer.forward(stateLayers[...], rows: variants, activations: activations, next: next,
                                      reluAfterLast: true))
      }
    }
    let stateWidth = stateLayers.last!.outputs

    // shared [variants x h] = g · W0[:, 0..<hs]ᵀ + b0; V per state.
    var shared = [Float](repeating: 0, count: variants * hidden)
    stateOutput.withUnsafeBufferPointer { g in
      shared.withUnsafeMutableBufferPointer { out in
        Kernels.linear(input: g, weight: advantageHidden.weight, bias: advantageHidden.bias, output: out,
                       rows: variants, inFeatures: stateWidth, outFeatures: hidden, weightStride: advantageHidden.inputs)
      }
    }
    var scores = [Float](repeating: 0, count: variants * k)
    var hiddenRow = [Float](repeating: 0, count: hidden)
    func advantage(_ v: Int, _ row: Int32) -> Float {
      let item = Int(row) * hidden
      for unit in 0..<hidden {
        let x = itemAdvantage.values[item + unit] + shared[v * hidden + unit]
        hiddenRow[unit] = x < 0 ? 0 : x
      }
      return hiddenRow.withUnsafeBufferPointer { Kernels.dot(advantageWeight, $0) } + advantageBias
    }
    for v in 0..<variants {
      if request.isCancelled { throw ModelError.cancelled }
      let value = stateOutput.withUnsafeBufferPointer {
        Kernels.dot(valueWeight, UnsafeBufferPointer(rebasing: $0[v * stateWidth..<(v + 1) * stateWidth]))
      } + valueBias
      var total: Double = 0
      for row in candidateRows { total += Double(advantage(v, row)) }
      let meanAdvantage = Float(total / Double(candidateRows.count))
      for (i, row) in itemRows.enumerated() { scores[v * k + i] = (value + advantage(v, row)) - meanAdvantage }
    }
    scores.withUnsafeBufferPointer { explanation.writeOcclusion(scores: $0, kept: kept) }
  }
}

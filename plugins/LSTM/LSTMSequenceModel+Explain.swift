import PluginAPI
import RecSysKernels

/// Explanations (issue 17) by occlusion over the kept history.
///
/// Removing kept event j leaves steps 0..<j as in the full history, so history j continues from
/// the full run's (h, c) after step j-1 (every layer's) and runs only events j+1..<n. The full
/// history runs once, keeping every step's states; the occluded suffixes then run in lockstep
/// (`Kernels.lstmLayerSequences`: one GEMM per step over the histories still running, n(n-1)/2
/// rows in all). Layer 0's input projection is computed once per kept event and gathered. The
/// last event's removal needs no run (the full run's h after step n-2). Only the returned items
/// are scored: `Z [(1 + n) x d] · E_itemsᵀ`.
extension LSTMSequenceModel {
  public static let explains = true

  public func explain(_ request: Request, into explanation: inout Explanation) throws {
    try explanation.writeDotProductOcclusion(
      request, catalog: catalog, maxHistory: maxHistory, itemEmbedding: itemEmbedding, dim: dimension
    ) { kept, userVectors in
      try occlusionUserVectors(kept, into: userVectors, request: request)
    }
  }

  /// z = proj(h_last) of the kept history (row 0) and of each one-event-removed history (row 1 + j).
  private func occlusionUserVectors(
    _ kept: KeptHistory, into userVectors: UnsafeMutableBufferPointer<Float>, request: Request
  ) throws {
    let n = kept.count
    let d = dimension

    // e_t = item_emb[h_t] + event_emb[type_t], and its layer-0 projection + both biases, per event.
    var events = [Float](repeating: 0, count: n * d)
    events.withUnsafeMutableBufferPointer { events in
      kept.rows.withUnsafeBufferPointer { Kernels.gatherRows(matrix: itemEmbedding, rowIndices: $0, dim: d, output: events) }
      for (t, type) in kept.types.enumerated() {
        Kernels.add(UnsafeMutableBufferPointer(rebasing: events[t * d..<(t + 1) * d]),
                    UnsafeBufferPointer(rebasing: eventEmbedding[Int(type) * d..<(Int(type) + 1) * d]))
      }
    }
    var projected = [Float](repeating: 0, count: n * 4 * hidden)
    let first = layers[0]
    events.withUnsafeBufferPointer { events in
      projected.withUnsafeMutableBufferPointer { projected in
        Kernels.linear(input: events, weight: first.weightIH, bias: first.biasIH, output: projected,
                       rows: n, inFeatures: d, outFeatures: 4 * hidden)
        Kernels.addBias(projected, bias: first.biasHH, rows: n, cols: 4 * hidden)
      }
    }

    // Last hidden state of the kept history (row 0) and of each occluded one (row 1 + j).
    var lastHidden = [Float](repeating: 0, count: (1 + n) * hidden)
    try lastHidden.withUnsafeMutableBufferPointer { last in
      try projected.withUnsafeBufferPointer { projected in
        try occludedLastHidden(projected: projected, steps: n, into: last, request: request)
      }
    }
    lastHidden.withUnsafeBufferPointer { last in
      Kernels.linear(input: last, weight: projectionWeight, bias: projectionBias, output: userVectors,
                     rows: 1 + n, inFeatures: hidden, outFeatures: d)
    }
  }

  /// Runs the full history (n steps) and, from its states, every one-event-removed suffix; writes
  /// the last layer's final h of the full history (row 0) and of history j (row 1 + j).
  private func occludedLastHidden(projected: UnsafeBufferPointer<Float>, steps n: Int,
                                  into last: UnsafeMutableBufferPointer<Float>, request: Request) throws {
    let h4 = 4 * hidden
    let batch = n - 1  // histories j = 0..<n-1 have a suffix; j = n-1 has none
    let suffixRows = n * (n - 1) / 2
    // Suffix step s runs histories 0..<(n-1-s): history j has n-1-j events left.
    let stepBatches = (0..<batch).map { batch - $0 }
    var offsets = [0]
    for running in stepBatches { offsets.append(offsets.last! + running) }
    let rows = max(n, suffixRows)
    var arena = Arena(
      floats: rows * h4 + 2 * n * hidden + 2 * suffixRows * hidden + 2 * max(batch, 1) * hidden)
    defer { arena.free() }
    let gates = arena.floats(rows * h4)
    let fullHidden = arena.floats(n * hidden)  // this layer's h_t of the full history
    let fullCell = arena.floats(n * hidden)  // and its c_t
    var suffixInput = arena.floats(suffixRows * hidden)  // the layer below's h of every suffix row
    var suffixOutput = arena.floats(suffixRows * hidden)
    let initialHidden = arena.floats(max(batch, 1) * hidden)
    let cell = arena.floats(max(batch, 1) * hidden)

    for (index, layer) in layers.enumerated() {
      if request.isCancelled { throw ModelError.cancelled }
      // Gate inputs: layer 0 gathers the per-event projections, the others project the layer below.
      // The full history first (its layer-below h is still in fullHidden).
      let fullGates = UnsafeMutableBufferPointer(rebasing: gates[0..<n * h4])
      if index == 0 {
        _ = fullGates.update(fromContentsOf: UnsafeBufferPointer(rebasing: projected[0..<n * h4]))
      } else {
        Kernels.linear(input: UnsafeBufferPointer(fullHidden), weight: layer.weightIH, bias: layer.biasIH,
                       output: fullGates, rows: n, inFeatures: hidden, outFeatures: h4)
        Kernels.addBias(fullGates, bias: layer.biasHH, rows: n, cols: h4)
      }
      let single = [Int](repeating: 1, count: n)
      cell.baseAddress!.update(repeating: 0, count: hidden)
      single.withUnsafeBufferPointer {
        Kernels.lstmLayerSequences(gates: fullGates, weightHH: layer.weightHH, hidden: hidden, stepBatches: $0,
                                   output: fullHidden, cell: cell, cellStates: fullCell)
      }
      if batch == 0 { continue }
      // The suffixes: history j starts from the full run's state after step j-1 (zeros for j = 0).
      let suffixGates = UnsafeMutableBufferPointer(rebasing: gates[0..<suffixRows * h4])
      if index == 0 {
        for (s, running) in stepBatches.enumerated() {
          for j in 0..<running {
            (suffixGates.baseAddress! + (offsets[s] + j) * h4).update(
              from: projected.baseAddress! + (j + 1 + s) * h4, count: h4)
          }
        }
      } else {
        Kernels.linear(input: UnsafeBufferPointer(suffixInput), weight: layer.weightIH, bias: layer.biasIH,
                       output: suffixGates, rows: suffixRows, inFeatures: hidden, outFeatures: h4)
        Kernels.addBias(suffixGates, bias: layer.biasHH, rows: suffixRows, cols: h4)
      }
      initialHidden.baseAddress!.update(repeating: 0, count: hidden)
      cell.baseAddress!.update(repeating: 0, count: hidden)
      if batch > 1 {
        (initialHidden.baseAddress! + hidden).update(from: fullHidden.baseAddress!, count: (batch - 1) * hidden)
        (cell.baseAddress! + hidden).update(from: fullCell.baseAddress!, count: (batch - 1) * hidden)
      }
      stepBatches.withUnsafeBufferPointer {
        Kernels.lstmLayerSequences(gates: suffixGates, weightHH: layer.weightHH, hidden: hidden, stepBatches: $0,
                                   output: suffixOutput, cell: cell, initialHidden: UnsafeBufferPointer(initialHidden))
      }
      swap(&suffixInput, &suffixOutput)
    }
    // Row 0: the full history's last h; row 1 + j: history j's last suffix step (j < n-1), or
    // the full run's h after step n-2 (j = n-1; zeros when n = 1).
    last.baseAddress!.update(from: fullHidden.baseAddress! + (n - 1) * hidden, count: hidden)
    for j in 0..<batch {
      let finalStep = batch - 1 - j
      (last.baseAddress! + (1 + j) * hidden).update(
        from: suffixInput.baseAddress! + (offsets[finalStep] + j) * hidden, count: hidden)
    }
    let removedLast = last.baseAddress! + n * hidden
    if n >= 2 {
      removedLast.update(from: fullHidden.baseAddress! + (n - 2) * hidden, count: hidden)
    } else {
      removedLast.update(repeating: 0, count: hidden)
    }
  }
}

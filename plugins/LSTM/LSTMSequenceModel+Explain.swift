import PluginAPI
import RecSysKernels

/// Explanations (issue 17) by occlusion over the kept history.
///
/// The n one-event-removed histories run as one batch of n sequences of n - 1 steps through
/// `Kernels.lstmLayerBatch` (one GEMM over the batch per step); layer 0's input projection is
/// computed once per kept event and gathered into each sequence. Only the returned items are
/// scored: `Z [(1 + n) x d] · E_items^T`.
extension LSTMSequenceModel {
  public static let explains = true

  public func explain(_ request: Request, into explanation: inout Explanation) throws {
    let kept = catalog.keptHistory(request, maxLength: maxHistory)
    let n = kept.count
    let items = explanation.itemIDs
    if n == 0 || items.isEmpty { return }
    let itemRows = try catalog.rows(of: items)
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
        try runBatch(projected: projected, sequences: 1, steps: n, event: { _, t in t },
                     lastHidden: UnsafeMutableBufferPointer(rebasing: last[0..<hidden]), request: request)
        try runBatch(projected: projected, sequences: n, steps: n - 1, event: { j, t in t < j ? t : t + 1 },
                     lastHidden: UnsafeMutableBufferPointer(rebasing: last[hidden...]), request: request)
      }
    }

    // z = proj(h_last), then the returned items' scores under every history.
    var userVectors = [Float](repeating: 0, count: (1 + n) * d)
    var gathered = [Float](repeating: 0, count: items.count * d)
    var scores = [Float](repeating: 0, count: (1 + n) * items.count)
    lastHidden.withUnsafeBufferPointer { last in
      userVectors.withUnsafeMutableBufferPointer { z in
        Kernels.linear(input: last, weight: projectionWeight, bias: projectionBias, output: z,
                       rows: 1 + n, inFeatures: hidden, outFeatures: d)
      }
    }
    itemRows.withUnsafeBufferPointer { rows in
      gathered.withUnsafeMutableBufferPointer { Kernels.gatherRows(matrix: itemEmbedding, rowIndices: rows, dim: d, output: $0) }
    }
    gathered.withUnsafeBufferPointer { itemVectors in
      userVectors.withUnsafeBufferPointer { z in
        scores.withUnsafeMutableBufferPointer { scores in
          Kernels.linear(input: z, weight: itemVectors, bias: nil, output: scores,
                         rows: 1 + n, inFeatures: d, outFeatures: items.count)
        }
      }
    }
    scores.withUnsafeBufferPointer { explanation.writeOcclusion(scores: $0, kept: kept) }
  }

  /// Runs `sequences` sequences of `steps` events through every layer in lockstep; step t of
  /// sequence s is kept event `event(s, t)` (whose layer-0 gate input is a row of `projected`).
  /// Writes each sequence's last hidden state (zeros when `steps` is 0, the empty history).
  private func runBatch(projected: UnsafeBufferPointer<Float>, sequences: Int, steps: Int,
                       event: (Int, Int) -> Int, lastHidden: UnsafeMutableBufferPointer<Float>,
                       request: Request) throws {
    let h4 = 4 * hidden
    let rows = steps * sequences
    if rows == 0 {
      lastHidden.update(repeating: 0)
      return
    }
    let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows * h4 + rows * hidden + sequences * hidden)
    defer { scratch.deallocate() }
    let gates = UnsafeMutableBufferPointer(rebasing: scratch[0..<rows * h4])
    let output = UnsafeMutableBufferPointer(rebasing: scratch[rows * h4..<rows * (h4 + hidden)])
    let cell = UnsafeMutableBufferPointer(rebasing: scratch[rows * (h4 + hidden)..<scratch.count])
    for t in 0..<steps {
      for s in 0..<sequences {
        (gates.baseAddress! + (t * sequences + s) * h4).update(from: projected.baseAddress! + event(s, t) * h4, count: h4)
      }
    }
    for (index, layer) in layers.enumerated() {
      if request.isCancelled { throw ModelError.cancelled }
      if index > 0 {
        Kernels.linear(input: UnsafeBufferPointer(output), weight: layer.weightIH, bias: layer.biasIH, output: gates,
                       rows: rows, inFeatures: hidden, outFeatures: h4)
        Kernels.addBias(gates, bias: layer.biasHH, rows: rows, cols: h4)
      }
      Kernels.lstmLayerBatch(gates: gates, weightHH: layer.weightHH, steps: steps, batch: sequences, hidden: hidden,
                             output: output, cell: cell)
    }
    lastHidden.baseAddress!.update(from: output.baseAddress! + (steps - 1) * sequences * hidden, count: sequences * hidden)
  }
}

import PluginAPI
import RecSysKernels

/// Explanations (issue 17): occlusion over the kept history, plus the last block's attention.
///
/// The n one-event-removed histories (n - 1 events each) run through the blocks as one batch of n
/// sequences (`encode`), the full history as a batch of one that also returns the last query's
/// head-averaged attention. Only the returned items are scored: `Z [(1 + n) x d] · E_items^T`.
extension SASRecModel {
  public static let explains = true

  public func explain(_ request: Request, into explanation: inout Explanation) throws {
    let kept = catalog.keptHistory(request, maxLength: maxHistory)
    let n = kept.count
    let items = explanation.itemIDs
    if n == 0 || items.isEmpty { return }
    let itemRows = try catalog.rows(of: items)
    let d = dimension

    // Row 0: the kept history; row 1 + j: without kept event j.
    var occluded: [Int32] = []
    occluded.reserveCapacity(n * (n - 1))
    for j in 0..<n {
      occluded += kept.rows[..<j]
      occluded += kept.rows[(j + 1)...]
    }
    var userVectors = [Float](repeating: 0, count: (1 + n) * d)
    var attention = [Float](repeating: 0, count: n)
    try userVectors.withUnsafeMutableBufferPointer { z in
      try attention.withUnsafeMutableBufferPointer { attention in
        try kept.rows.withUnsafeBufferPointer { rows in
          try encode(rows: rows, sequences: 1, steps: n, userVectors: UnsafeMutableBufferPointer(rebasing: z[0..<d]),
                     lastQueryWeights: attention, request: request)
        }
        try occluded.withUnsafeBufferPointer { rows in
          try encode(rows: rows, sequences: n, steps: n - 1,
                     userVectors: UnsafeMutableBufferPointer(rebasing: z[d...]), lastQueryWeights: nil, request: request)
        }
      }
    }
    var scores = [Float](repeating: 0, count: (1 + n) * items.count)
    var gathered = [Float](repeating: 0, count: items.count * d)
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
    for (j, position) in kept.positions.enumerated() {
      explanation.setAttention(historyPosition: position, attention[j])
    }
  }

  /// z for `sequences` histories of `steps` events each (`rows`: their catalog rows, one sequence
  /// after another), through the same blocks as `recommend`, batched: every row-wise step (layer
  /// norms, projections, FFN) is one call over all sequences, attention stays within each.
  /// `lastQueryWeights` (`[sequences x steps]`): the last block's head-averaged attention of each
  /// sequence's last position.
  func encode(rows: UnsafeBufferPointer<Int32>, sequences: Int, steps: Int,
              userVectors: UnsafeMutableBufferPointer<Float>, lastQueryWeights: UnsafeMutableBufferPointer<Float>?,
              request: Request) throws {
    let d = dimension
    let total = sequences * steps
    let attentionScratchCount = Kernels.causalSelfAttentionScratchCount(steps: steps, dim: d, sequences: sequences)
    let scratch = UnsafeMutableBufferPointer<Float>.allocate(
      capacity: max(2 * total * d + total * widestFFN + attentionScratchCount + 2 * sequences * d, 1))
    defer { scratch.deallocate() }
    var cursor = 0
    func take(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
      defer { cursor += count }
      return UnsafeMutableBufferPointer(rebasing: scratch[cursor..<cursor + count])
    }
    let x = take(total * d)  // the residual streams, [sequences*steps x d]
    let branch = take(total * d)
    let ffnHidden = take(total * widestFFN)
    let attentionScratch = take(attentionScratchCount)
    let lastRows = take(sequences * d)  // each sequence's last position after the last block
    let normed = take(sequences * d)

    if steps == 0 {
      lastRows.update(repeating: 0)
    } else {
      Kernels.gatherRows(matrix: itemEmbedding, rowIndices: rows, dim: d, output: x)
      Kernels.scale(x, by: Float(Double(d).squareRoot()))
      let positions = UnsafeBufferPointer(rebasing: positionEmbedding[0..<steps * d])
      for sequence in 0..<sequences {
        Kernels.add(UnsafeMutableBufferPointer(rebasing: x[sequence * steps * d..<(sequence + 1) * steps * d]), positions)
      }
    }
    for (index, block) in blocks.enumerated() where steps > 0 {
      if request.isCancelled { throw ModelError.cancelled }
      let isLast = index == blocks.count - 1
      let queries = isLast ? 1 : steps
      Kernels.layerNorm(input: UnsafeBufferPointer(x), rows: total, dim: d, weight: block.ln1Weight,
                        bias: block.ln1Bias, output: branch)
      Kernels.causalSelfAttention(
        input: UnsafeBufferPointer(branch), inProjWeight: block.inProjWeight, inProjBias: block.inProjBias,
        outProjWeight: block.outProjWeight, outProjBias: block.outProjBias, heads: heads, steps: steps, dim: d,
        output: UnsafeMutableBufferPointer(rebasing: branch[0..<sequences * queries * d]), scratch: attentionScratch,
        firstQuery: steps - queries, sequences: sequences, lastQueryWeights: isLast ? lastQueryWeights : nil)
      // The rows that go on: every row, or after the last block each sequence's last row alone.
      let stream: UnsafeMutableBufferPointer<Float>
      if isLast {
        for sequence in 0..<sequences {
          let last = (sequence * steps + steps - 1) * d
          UnsafeMutableBufferPointer(rebasing: lastRows[sequence * d..<(sequence + 1) * d])
            .baseAddress!.update(from: x.baseAddress! + last, count: d)
        }
        stream = lastRows
      } else {
        stream = x
      }
      let rowsOn = sequences * queries
      Kernels.add(stream, UnsafeBufferPointer(rebasing: branch[0..<rowsOn * d]))
      let ffnIn = UnsafeMutableBufferPointer(rebasing: branch[0..<rowsOn * d])
      let hiddenLayer = UnsafeMutableBufferPointer(rebasing: ffnHidden[0..<rowsOn * block.ffnWidth])
      Kernels.layerNorm(input: UnsafeBufferPointer(stream), rows: rowsOn, dim: d, weight: block.ln2Weight,
                        bias: block.ln2Bias, output: ffnIn)
      Kernels.linear(input: UnsafeBufferPointer(ffnIn), weight: block.ffnInWeight, bias: block.ffnInBias,
                     output: hiddenLayer, rows: rowsOn, inFeatures: d, outFeatures: block.ffnWidth)
      Kernels.gelu(hiddenLayer)
      Kernels.linear(input: UnsafeBufferPointer(hiddenLayer), weight: block.ffnOutWeight, bias: block.ffnOutBias,
                     output: ffnIn, rows: rowsOn, inFeatures: block.ffnWidth, outFeatures: d)
      Kernels.add(stream, UnsafeBufferPointer(ffnIn))
    }
    if blocks.isEmpty && steps > 0 {
      for sequence in 0..<sequences {
        lastRows.baseAddress!.advanced(by: sequence * d)
          .update(from: x.baseAddress! + (sequence * steps + steps - 1) * d, count: d)
      }
    }
    Kernels.layerNorm(input: UnsafeBufferPointer(lastRows), rows: sequences, dim: d, weight: finalNormWeight,
                      bias: finalNormBias, output: normed)
    _ = userVectors.update(fromContentsOf: normed)
  }
}

import PluginAPI
import RecSysKernels

/// Explanations (issue 17): occlusion over the kept history, plus the last block's attention.
///
/// Removing kept event j leaves positions 0..<j exactly as in the full history (same items, same
/// position embeddings, and attention is causal), so their states, keys and values in every block
/// are the full run's. The full history runs once and keeps each block's q|k|v; the n occluded
/// histories then run only their suffixes (positions j..<n-1, n(n-1)/2 rows in all) as one batch:
/// layer norms, projections and FFN are one call over every suffix row, and each sequence's
/// attention reads the full run's keys and values for its prefix. The last event's removal needs
/// no run at all (its states are the full run's up to position n-2). Only the returned items are
/// scored: `Z [(1 + n) x d] · E_itemsᵀ`.
extension SASRecModel {
  public static let explains = true

  public func explain(_ request: Request, into explanation: inout Explanation) throws {
    try explanation.writeDotProductOcclusion(
      request, catalog: catalog, maxHistory: maxHistory, itemEmbedding: itemEmbedding, dim: dimension
    ) { [explanation] kept, userVectors in
      var attention = [Float](repeating: 0, count: kept.count)
      try attention.withUnsafeMutableBufferPointer { attention in
        try occlusionUserVectors(kept.rows, userVectors: userVectors, attention: attention, request: request)
      }
      // Without blocks there is no attention to report.
      for (j, position) in kept.positions.enumerated() where !blocks.isEmpty {
        explanation.setAttention(historyPosition: position, attention[j])
      }
    }
  }

  /// z of the kept history (`userVectors` row 0) and of it without event j (row 1 + j), and the
  /// last block's head-averaged attention of the full history's last position (`attention`).
  private func occlusionUserVectors(_ rows: [Int32], userVectors: UnsafeMutableBufferPointer<Float>,
                                    attention: UnsafeMutableBufferPointer<Float>, request: Request) throws {
    let d = dimension
    let d3 = 3 * d
    let n = rows.count
    let m = n - 1  // the occluded histories' length
    // Suffix of occluded history j: positions j..<m, whose items are kept events j+1..<n.
    let suffixLength = (0..<n).map { m - $0 }
    let suffixStart = suffixLength.reduce(into: [0]) { $0.append($0.last! + $1) }
    let suffixRows = suffixStart[n]  // n(n-1)/2
    let widest = max(n, suffixRows)

    var arena = Arena(floats: blocks.count * n * d3 + 2 * n * d + suffixRows * d + widest * (4 * d + d3 + widestFFN)
                              + n * n + m * d3 + (n + 1) * d)
    let fullQKV = arena.floats(blocks.count * n * d3)  // each block's q|k|v of the full history
    let full = arena.floats(n * d)  // the full history's residual stream
    let fullTail = arena.floats(n * d)  // queries and outputs of the full run's last block
    let suffix = arena.floats(suffixRows * d)  // the occluded histories' suffix streams
    let normed = arena.floats(widest * d)
    let projected = arena.floats(widest * d3)
    let ffnHidden = arena.floats(widest * widestFFN)
    let weights = arena.floats(n * n)
    let assembled = arena.floats(m * d3)  // one occluded history's q|k|v: prefix from the full run
    let lastRows = arena.floats((n + 1) * d)  // each history's last position after the blocks
    let context = arena.floats(widest * d)  // attention outputs before out_proj
    let branches = arena.floats(widest * d)  // what attention adds to the suffix streams
    defer { arena.free() }

    // x_i = item_emb[h_i] * sqrt(d) + pos_emb[i]: the full history, then each suffix.
    let scale = Float(Double(d).squareRoot())
    func embed(_ row: Int32, position: Int, into target: UnsafeMutablePointer<Float>) {
      let item = itemEmbedding.baseAddress! + Int(row) * d
      let positionRow = positionEmbedding.baseAddress! + position * d
      for c in 0..<d { target[c] = item[c] * scale + positionRow[c] }
    }
    for p in 0..<n { embed(rows[p], position: p, into: full.baseAddress! + p * d) }
    for j in 0..<n {
      for i in 0..<suffixLength[j] {
        embed(rows[j + i + 1], position: j + i, into: suffix.baseAddress! + (suffixStart[j] + i) * d)
      }
    }

    // x = x + ffn(ln2(x)) over `count` rows of `stream`.
    func feedForward(_ block: Block, _ stream: UnsafeMutableBufferPointer<Float>, count: Int) {
      let input = UnsafeMutableBufferPointer(rebasing: normed[0..<count * d])
      let hidden = UnsafeMutableBufferPointer(rebasing: ffnHidden[0..<count * block.ffnWidth])
      Kernels.layerNorm(input: UnsafeBufferPointer(stream), rows: count, dim: d, weight: block.ln2Weight,
                        bias: block.ln2Bias, output: input)
      Kernels.linear(input: UnsafeBufferPointer(input), weight: block.ffnInWeight, bias: block.ffnInBias,
                     output: hidden, rows: count, inFeatures: d, outFeatures: block.ffnWidth)
      Kernels.gelu(hidden)
      Kernels.linear(input: UnsafeBufferPointer(hidden), weight: block.ffnOutWeight, bias: block.ffnOutBias,
                     output: input, rows: count, inFeatures: block.ffnWidth, outFeatures: d)
      Kernels.add(stream, UnsafeBufferPointer(input))
    }
    // q|k|v = in_proj(ln1(x)) over `count` rows.
    func project(_ block: Block, _ stream: UnsafeMutableBufferPointer<Float>, count: Int,
                 into output: UnsafeMutableBufferPointer<Float>) {
      let input = UnsafeMutableBufferPointer(rebasing: normed[0..<count * d])
      Kernels.layerNorm(input: UnsafeBufferPointer(stream), rows: count, dim: d, weight: block.ln1Weight,
                        bias: block.ln1Bias, output: input)
      Kernels.linear(input: UnsafeBufferPointer(input), weight: block.inProjWeight, bias: block.inProjBias,
                     output: output, rows: count, inFeatures: d, outFeatures: d3)
    }
    func outProject(_ block: Block, rows count: Int, into output: UnsafeMutableBufferPointer<Float>) {
      Kernels.linear(input: UnsafeBufferPointer(rebasing: context[0..<count * d]), weight: block.outProjWeight,
                     bias: block.outProjBias, output: output, rows: count, inFeatures: d, outFeatures: d)
    }
    func copyRow(_ source: UnsafeMutableBufferPointer<Float>, _ row: Int, to target: UnsafeMutableBufferPointer<Float>,
                 _ targetRow: Int) {
      (target.baseAddress! + targetRow * d).update(from: source.baseAddress! + row * d, count: d)
    }

    // The full history. Its last block computes the last two positions: n-1 for z, n-2 for the
    // history without its last event.
    attention.update(repeating: 0)
    let tailStart = max(n - 2, 0)
    for (b, block) in blocks.enumerated() {
      if request.isCancelled { throw ModelError.cancelled }
      let qkv = UnsafeMutableBufferPointer(rebasing: fullQKV[b * n * d3..<(b + 1) * n * d3])
      project(block, full, count: n, into: qkv)
      let first = b == blocks.count - 1 ? tailStart : 0
      let queries = n - first
      Kernels.causalAttentionHeads(
        qkv: UnsafeBufferPointer(qkv), heads: heads, steps: n, dim: d, firstQuery: first,
        context: UnsafeMutableBufferPointer(rebasing: context[0..<queries * d]), weightsScratch: weights,
        lastQueryWeights: b == blocks.count - 1 ? attention : nil)
      let stream = UnsafeMutableBufferPointer(rebasing: full[first * d..<n * d])
      let branch = UnsafeMutableBufferPointer(rebasing: fullTail[0..<queries * d])
      outProject(block, rows: queries, into: branch)
      Kernels.add(stream, UnsafeBufferPointer(branch))
      feedForward(block, stream, count: queries)
    }
    copyRow(full, n - 1, to: lastRows, 0)
    if n >= 2 {
      copyRow(full, n - 2, to: lastRows, n)
    } else {
      UnsafeMutableBufferPointer(rebasing: lastRows[n * d..<(n + 1) * d]).update(repeating: 0)
    }

    // The occluded histories j < n-1 (j = n-1 is the full run's position n-2, taken above).
    let batch = n - 1
    if batch > 0 {
      let suffixQKV = UnsafeMutableBufferPointer(rebasing: projected[0..<suffixRows * d3])
      for (b, block) in blocks.enumerated() {
        if request.isCancelled { throw ModelError.cancelled }
        let isLast = b == blocks.count - 1
        project(block, suffix, count: suffixRows, into: suffixQKV)
        let fullBlock = fullQKV.baseAddress! + b * n * d3
        var contextRow = 0
        for j in 0..<batch {
          // q|k|v of history j: positions < j from the full run, j..<m its own suffix.
          assembled.baseAddress!.update(from: fullBlock, count: j * d3)
          (assembled.baseAddress! + j * d3).update(
            from: suffixQKV.baseAddress! + suffixStart[j] * d3, count: suffixLength[j] * d3)
          let first = isLast ? m - 1 : j
          Kernels.causalAttentionHeads(
            qkv: UnsafeBufferPointer(rebasing: assembled[0..<m * d3]), heads: heads, steps: m, dim: d, firstQuery: first,
            context: UnsafeMutableBufferPointer(rebasing: context[contextRow * d..<(contextRow + m - first) * d]),
            weightsScratch: weights)
          contextRow += m - first
        }
        if isLast {
          // Only each history's last position goes on: gather, add attention, FFN.
          let stream = UnsafeMutableBufferPointer(rebasing: lastRows[d..<(1 + batch) * d])
          for j in 0..<batch { copyRow(suffix, suffixStart[j] + suffixLength[j] - 1, to: stream, j) }
          let branch = UnsafeMutableBufferPointer(rebasing: normed[0..<batch * d])
          outProject(block, rows: batch, into: branch)
          Kernels.add(stream, UnsafeBufferPointer(branch))
          feedForward(block, stream, count: batch)
        } else {
          let branch = UnsafeMutableBufferPointer(rebasing: branches[0..<suffixRows * d])
          outProject(block, rows: suffixRows, into: branch)
          Kernels.add(suffix, UnsafeBufferPointer(branch))
          feedForward(block, suffix, count: suffixRows)
        }
      }
      if blocks.isEmpty {
        for j in 0..<batch { copyRow(suffix, suffixStart[j] + suffixLength[j] - 1, to: lastRows, 1 + j) }
      }
    }
    Kernels.layerNorm(input: UnsafeBufferPointer(rebasing: lastRows[0..<(1 + n) * d]), rows: 1 + n, dim: d,
                      weight: finalNormWeight, bias: finalNormBias, output: userVectors)
  }
}

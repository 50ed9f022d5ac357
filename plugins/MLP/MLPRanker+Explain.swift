import PluginAPI
import RecSysKernels

/// Explanations (issue 17) by occlusion over the kept history.
///
/// The user vector is a mean, so removing kept event j has a closed form: u_j = (Σe − e_j)/(n − 1)
/// (zeros when n = 1). Layer 1 splits as in `recommend`: the user+context block per history
/// variant (one GEMM over the 1 + n variants), the item+feature block per returned item (its item
/// part from the per-item cache when the model has one); the sums
/// then run through the remaining layers as (1 + n) x items rows. Only the returned items are scored.
extension MLPRanker {
  public static let explains = true

  public func explain(_ request: Request, into explanation: inout Explanation) throws {
    try request.requireContext(count: contextDimension)
    try request.requireCandidateFeatures(perCandidate: featureDimension)
    guard let input = try catalog.occlusionInput(request, maxHistory: maxHistory, explaining: explanation) else { return }
    let kept = input.kept
    let n = kept.count
    let k = input.itemRows.count
    let candidateIndices = try catalog.candidateIndices(of: explanation.itemIDs, in: request).map { Int32($0) }
    let d = items.dimension
    let embedding = items.embedding
    let first = layers[0]
    let hidden = first.outputs
    let variants = 1 + n
    let rows = variants * k

    try Arena.with(
      floats: variants * d + d + hidden + variants * hidden + k * hidden + k * max(d, featureDimension) + 2 * rows * widest
    ) { arena in
      let userVectors = arena.floats(variants * d)
      let sum = arena.floats(d)
      let sharedBias = arena.floats(hidden)
      let userBlock = arena.floats(variants * hidden)
      let itemBlock = arena.floats(k * hidden)
      let gathered = arena.floats(k * max(d, featureDimension))
      let activations = arena.floats(rows * widest)
      let next = arena.floats(rows * widest)

      // U: row 0 the mean of the kept events, row 1 + j the mean without event j (zeros when n = 1).
      sum.update(repeating: 0)
      for row in kept.rows {
        for c in 0..<d { sum[c] += embedding[Int(row) * d + c] }
      }
      userVectors.update(repeating: 0)
      for c in 0..<d { userVectors[c] = sum[c] / Float(n) }
      if n > 1 {
        for (j, row) in kept.rows.enumerated() {
          for c in 0..<d { userVectors[(1 + j) * d + c] = (sum[c] - embedding[Int(row) * d + c]) / Float(n - 1) }
        }
      }

      // userBlock [variants x h] = U · W1[:, 0..<d]ᵀ + (b1 + W1[:, 2d..<2d+C] · context).
      _ = sharedBias.initialize(from: first.bias)
      if contextDimension > 0 {
        Kernels.gemv(matrix: first.columns(from: 2 * d), vector: request.context, output: sharedBias,
                     rows: hidden, columns: contextDimension, matrixStride: first.inputs, beta: 1)
      }
      Kernels.linear(input: UnsafeBufferPointer(userVectors), weight: first.weight, bias: UnsafeBufferPointer(sharedBias),
                     output: userBlock, rows: variants, inFeatures: d, outFeatures: hidden, weightStride: first.inputs)
      // itemBlock [k x h] = item_emb[items] · W1[:, d..<2d]ᵀ + features[items] · W1[:, 2d+C...]ᵀ.
      input.itemRows.withUnsafeBufferPointer { itemRows in
        if let itemBlocks {
          Kernels.gatherRows(matrix: itemBlocks.table, rowIndices: itemRows, dim: hidden, output: itemBlock)
        } else {
          Kernels.gatherRows(matrix: embedding, rowIndices: itemRows, dim: d, output: gathered)
          Kernels.linear(input: UnsafeBufferPointer(gathered), weight: first.columns(from: d), bias: nil,
                         output: itemBlock, rows: k, inFeatures: d, outFeatures: hidden, weightStride: first.inputs)
        }
      }
      if featureDimension > 0 {
        candidateIndices.withUnsafeBufferPointer {
          Kernels.gatherRows(matrix: request.candidateFeatures, rowIndices: $0, dim: featureDimension, output: gathered)
        }
        Kernels.linear(input: UnsafeBufferPointer(gathered), weight: first.columns(from: 2 * d + contextDimension),
                       bias: nil, output: itemBlock, rows: k, inFeatures: featureDimension, outFeatures: hidden,
                       weightStride: first.inputs, accumulate: true)
      }

      // Layer 1 (with its ReLU when more layers follow) for every (variant, item), then the other
      // layers over all those rows.
      let relu = layers.count > 1
      for v in 0..<variants {
        for i in 0..<k {
          let out = (v * k + i) * hidden
          for unit in 0..<hidden {
            let value = userBlock[v * hidden + unit] + itemBlock[i * hidden + unit]
            activations[out + unit] = relu && value < 0 ? 0 : value
          }
        }
      }
      let scores = try forwardAfterFirstLayer(activations, next: next, rows: rows, request: request)
      explanation.writeOcclusion(scores: scores, kept: kept)
    }
  }
}

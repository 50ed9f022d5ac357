import PluginAPI
import RecSysKernels

/// Explanations (issue 17) by occlusion over the kept history.
///
/// The user vector is a mean, so removing kept event j has a closed form: u_j = (Σe − e_j)/(n − 1)
/// (zeros when n = 1). Layer 1 splits as in `recommend`: the user+context block per history
/// variant (one GEMM over the 1 + n variants), the item+feature block per returned item; the sums
/// then run through the remaining layers as (1 + n) x items rows. Only the returned items are scored.
extension MLPRanker {
  public static let explains = true

  public func explain(_ request: Request, into explanation: inout Explanation) throws {
    try request.requireContext(count: contextDimension)
    try request.requireCandidateFeatures(perCandidate: featureDimension)
    let kept = catalog.keptHistory(request, maxLength: maxHistory)
    let n = kept.count
    let items = explanation.itemIDs
    let k = items.count
    if n == 0 || k == 0 { return }
    let itemRows = try catalog.rows(of: items)
    let candidateIndices = try catalog.candidateIndices(of: items, in: request).map { Int32($0) }
    let d = dimension
    let first = layers[0]
    let hidden = first.outputs
    let variants = 1 + n
    let rows = variants * k
    let widest = layers.map(\.outputs).max()!

    // U: row 0 the mean of the kept events, row 1 + j the mean without event j.
    var userVectors = [Float](repeating: 0, count: variants * d)
    var sum = [Float](repeating: 0, count: d)
    for row in kept.rows {
      for c in 0..<d { sum[c] += itemEmbedding[Int(row) * d + c] }
    }
    for c in 0..<d { userVectors[c] = sum[c] / Float(n) }
    if n > 1 {
      for (j, row) in kept.rows.enumerated() {
        for c in 0..<d { userVectors[(1 + j) * d + c] = (sum[c] - itemEmbedding[Int(row) * d + c]) / Float(n - 1) }
      }
    }

    // userBlock [variants x h] = U · W1[:, 0..<d]ᵀ + (b1 + W1[:, 2d..<2d+C] · context).
    var sharedBias = Array(first.bias)
    if contextDimension > 0 {
      sharedBias.withUnsafeMutableBufferPointer { bias in
        Kernels.gemv(matrix: Self.columns(first.weight, from: 2 * d), vector: request.context, output: bias,
                     rows: hidden, columns: contextDimension, matrixStride: first.inputs, beta: 1)
      }
    }
    var userBlock = [Float](repeating: 0, count: variants * hidden)
    userVectors.withUnsafeBufferPointer { u in
      sharedBias.withUnsafeBufferPointer { bias in
        userBlock.withUnsafeMutableBufferPointer { out in
          Kernels.linear(input: u, weight: first.weight, bias: bias, output: out, rows: variants, inFeatures: d,
                         outFeatures: hidden, weightStride: first.inputs)
        }
      }
    }
    // itemBlock [k x h] = item_emb[items] · W1[:, d..<2d]ᵀ + features[items] · W1[:, 2d+C...]ᵀ.
    var itemBlock = [Float](repeating: 0, count: k * hidden)
    var gathered = [Float](repeating: 0, count: k * max(d, featureDimension))
    itemBlock.withUnsafeMutableBufferPointer { out in
      gathered.withUnsafeMutableBufferPointer { gathered in
        itemRows.withUnsafeBufferPointer { Kernels.gatherRows(matrix: itemEmbedding, rowIndices: $0, dim: d, output: gathered) }
        Kernels.linear(input: UnsafeBufferPointer(gathered), weight: Self.columns(first.weight, from: d), bias: nil,
                       output: out, rows: k, inFeatures: d, outFeatures: hidden, weightStride: first.inputs)
        if featureDimension > 0 {
          candidateIndices.withUnsafeBufferPointer {
            Kernels.gatherRows(matrix: request.candidateFeatures, rowIndices: $0, dim: featureDimension, output: gathered)
          }
          Kernels.linear(input: UnsafeBufferPointer(gathered),
                         weight: Self.columns(first.weight, from: 2 * d + contextDimension), bias: nil, output: out,
                         rows: k, inFeatures: featureDimension, outFeatures: hidden, weightStride: first.inputs,
                         accumulate: true)
        }
      }
    }

    // Layer 1 for every (variant, item), then the other layers over all those rows.
    var activations = [Float](repeating: 0, count: rows * widest)
    var next = [Float](repeating: 0, count: rows * widest)
    for v in 0..<variants {
      for i in 0..<k {
        let out = (v * k + i) * hidden
        for unit in 0..<hidden { activations[out + unit] = userBlock[v * hidden + unit] + itemBlock[i * hidden + unit] }
      }
    }
    if layers.count > 1 {
      activations.withUnsafeMutableBufferPointer { Kernels.relu(UnsafeMutableBufferPointer(rebasing: $0[0..<rows * hidden])) }
    }
    for (index, layer) in layers.enumerated().dropFirst() {
      if request.isCancelled { throw ModelError.cancelled }
      activations.withUnsafeBufferPointer { input in
        next.withUnsafeMutableBufferPointer { output in
          Kernels.linear(input: input, weight: layer.weight, bias: layer.bias, output: output, rows: rows,
                         inFeatures: layer.inputs, outFeatures: layer.outputs)
          if index < layers.count - 1 { Kernels.relu(UnsafeMutableBufferPointer(rebasing: output[0..<rows * layer.outputs])) }
        }
      }
      swap(&activations, &next)
    }
    activations.withUnsafeBufferPointer {
      explanation.writeOcclusion(scores: UnsafeBufferPointer(rebasing: $0[0..<rows]), kept: kept)
    }
  }
}

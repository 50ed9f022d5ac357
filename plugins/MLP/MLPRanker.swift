import PluginAPI
import RecSysKernels

/// The `mlp` kind (models.md): score = mlp(concat(mean(history), item, context, features)).
///
/// Layer 1 is applied block by block: the user/context block is the same for every candidate, so
/// it is one GEMV per request (`shared`), added as the bias of the item block's GEMM over the
/// gathered candidate embeddings; the feature block is one more GEMM accumulated on top.
///
/// Why not precompute the item block per catalog item at load (N x h1 floats, tried): a request
/// then reads h1 floats per candidate from a table of N·h1·4 bytes (10 MB for the bench model)
/// instead of d floats from the 4x smaller embedding. Under load those scattered reads miss the
/// cache (perf: ~27 % of the server's CPU sat on the first load of each row, huge pages did not
/// help) and cost more than the GEMM they save: the GEMM form took ~9 % less server CPU per
/// request in a closed-loop A/B and 10 % less in-process over 200 different requests (only a single
/// request repeated, fully cached, favoured the table), and it saves the table's 10 MB per version.
public final class MLPRanker: RecommenderModel {
  public static let kind = "mlp"
  public static let version = "1.0.0"
  public static let tensorSpecs = [
    TensorSpec("item_ids", .int64, shape: "N"),
    TensorSpec("item_emb.weight", shape: "N,d"),
    TensorSpec("mlp.{n}.weight", shape: "*,*"),
    TensorSpec("mlp.{n}.bias", shape: "*"),
  ]

  let catalog: Catalog
  let itemEmbedding: UnsafeBufferPointer<Float>  // [N x d]
  let dimension: Int
  let contextDimension: Int
  let featureDimension: Int
  let maxHistory: Int
  let layers: [LinearLayer]

  public init(manifest: Manifest, tensors: Tensors) throws {
    contextDimension = try manifest.integer("context_dim", in: Manifest.Range.featureCount)
    featureDimension = try manifest.integer("candidate_feature_dim", in: Manifest.Range.featureCount)
    maxHistory = try manifest.integer("max_history", in: Manifest.Range.maxHistory)
    let ids = try tensors.int64s("item_ids")
    let embeddingShape = try tensors.shape("item_emb.weight")
    dimension = embeddingShape[1]
    itemEmbedding = try tensors.floats("item_emb.weight")
    catalog = try Catalog(itemIDs: ids)
    layers = try Self.layers(tensors, inputs: 2 * dimension + contextDimension + featureDimension)
    Kernels.useSingleThread()
  }

  /// Reads `mlp.0`, `mlp.2`, ... and checks the last has one output.
  private static func layers(_ tensors: Tensors, inputs: Int) throws -> [LinearLayer] {
    let layers = try LinearLayer.sequence(tensors, prefix: "mlp", inputs: inputs, inputsMeaning: "2d + C + F")
    guard layers.last!.outputs == 1 else {
      throw ModelError.invalidArgument("an mlp must end in a Linear with 1 output; the last layer has \(layers.last!.outputs)")
    }
    return layers
  }

  /// The columns `from...` of a row-major weight, addressed with the weight's own stride.
  static func columns(_ weight: UnsafeBufferPointer<Float>, from column: Int) -> UnsafeBufferPointer<Float> {
    UnsafeBufferPointer(rebasing: weight[min(column, weight.count)...])
  }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    try request.requireCandidates(kind: Self.kind)
    try request.requireContext(count: contextDimension)
    try request.requireCandidateFeatures(perCandidate: featureDimension)
    let (rows, positions) = catalog.candidates(request, reportingUnknownTo: &result)
    if rows.isEmpty { return }
    let history = catalog.historyRows(request, maxLength: maxHistory)
    let first = layers[0]
    let hidden = first.outputs
    let widest = layers.map(\.outputs).max()!
    let candidateCount = rows.count

    // One allocation per request: user vector, shared row, gathered inputs, two activation buffers.
    let scratchCount = dimension + hidden + candidateCount * max(dimension, featureDimension) + 2 * candidateCount * widest
    let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: scratchCount)
    defer { scratch.deallocate() }
    var cursor = 0
    func take(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
      defer { cursor += count }
      return UnsafeMutableBufferPointer(rebasing: scratch[cursor..<cursor + count])
    }
    let user = take(dimension)
    let shared = take(hidden)
    let gathered = take(candidateCount * max(dimension, featureDimension))
    var activations = take(candidateCount * widest)
    var next = take(candidateCount * widest)

    // shared = b1 + W1[:, 0..<d] · u + W1[:, 2d..<2d+C] · context
    history.withUnsafeBufferPointer { history in
      Kernels.meanOfRows(matrix: itemEmbedding, rowIndices: history, dim: dimension, output: user)
    }
    _ = shared.initialize(from: first.bias)
    Kernels.gemv(matrix: first.weight, vector: UnsafeBufferPointer(user), output: shared,
                 rows: hidden, columns: dimension, matrixStride: first.inputs, beta: 1)
    if contextDimension > 0 {
      Kernels.gemv(matrix: Self.columns(first.weight, from: 2 * dimension), vector: request.context, output: shared,
                   rows: hidden, columns: contextDimension, matrixStride: first.inputs, beta: 1)
    }
    // Layer 1 over all candidates: item_emb[rows] · W1[:, d..<2d]ᵀ + shared (as the bias), then
    // + features[known] · W1[:, 2d+C...]ᵀ.
    rows.withUnsafeBufferPointer { rows in
      Kernels.gatherRows(matrix: itemEmbedding, rowIndices: rows, dim: dimension, output: gathered)
    }
    Kernels.linear(input: UnsafeBufferPointer(gathered), weight: Self.columns(first.weight, from: dimension),
                   bias: UnsafeBufferPointer(shared), output: activations, rows: candidateCount,
                   inFeatures: dimension, outFeatures: hidden, weightStride: first.inputs)
    if featureDimension > 0 {
      positions.withUnsafeBufferPointer { positions in
        Kernels.gatherRows(matrix: request.candidateFeatures, rowIndices: positions, dim: featureDimension, output: gathered)
      }
      Kernels.linear(input: UnsafeBufferPointer(gathered),
                     weight: Self.columns(first.weight, from: 2 * dimension + contextDimension), bias: nil,
                     output: activations, rows: candidateCount, inFeatures: featureDimension, outFeatures: hidden,
                     weightStride: first.inputs, accumulate: true)
    }
    if layers.count > 1 { Kernels.relu(UnsafeMutableBufferPointer(rebasing: activations[0..<candidateCount * hidden])) }

    for (index, layer) in layers.enumerated().dropFirst() {
      if request.isCancelled { throw ModelError.cancelled }
      Kernels.linear(input: UnsafeBufferPointer(activations), weight: layer.weight, bias: layer.bias, output: next,
                     rows: candidateCount, inFeatures: layer.inputs, outFeatures: layer.outputs)
      if index < layers.count - 1 {
        Kernels.relu(UnsafeMutableBufferPointer(rebasing: next[0..<candidateCount * layer.outputs]))
      }
      swap(&activations, &next)
    }
    let scores = UnsafeBufferPointer(rebasing: activations[0..<candidateCount])
    Ranking.writeTopCandidates(
      scores: scores, rows: rows, catalog: catalog, excluding: ExclusionSet(request, catalog: catalog), into: &result)
  }
}

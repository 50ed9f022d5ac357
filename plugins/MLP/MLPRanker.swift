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
  public static let tensorSpecs = EmbeddedCatalog.tensorSpecs + TensorSpec.linearStack("mlp")

  let items: EmbeddedCatalog
  let contextDimension: Int  // C
  let featureDimension: Int  // F
  let maxHistory: Int  // L
  let layers: [LinearLayer]
  let widest: Int  // the widest layer's outputs

  var catalog: Catalog { items.catalog }

  public init(manifest: Manifest, tensors: Tensors) throws {
    contextDimension = try manifest.integer("context_dim", in: Manifest.Range.featureCount)
    featureDimension = try manifest.integer("candidate_feature_dim", in: Manifest.Range.featureCount)
    maxHistory = try manifest.integer("max_history", in: Manifest.Range.maxHistory)
    items = try EmbeddedCatalog(tensors)
    layers = try LinearLayer.sequence(
      tensors, prefix: "mlp", inputs: 2 * items.dimension + contextDimension + featureDimension,
      inputsMeaning: "2d + C + F")
    guard layers.last!.outputs == 1 else {
      throw ModelError.invalidArgument("an mlp must end in a Linear with 1 output; the last layer has \(layers.last!.outputs)")
    }
    widest = layers.map(\.outputs).max()!
  }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    try request.requireCandidates(kind: Self.kind)
    try request.requireContext(count: contextDimension)
    try request.requireCandidateFeatures(perCandidate: featureDimension)
    let (rows, positions) = catalog.candidates(request, reportingUnknownTo: &result)
    if rows.isEmpty { return }
    let history = catalog.historyRows(request, maxLength: maxHistory)
    let d = items.dimension
    let first = layers[0]
    let hidden = first.outputs
    let candidateCount = rows.count

    // User vector, shared row, gathered inputs, two activation buffers.
    try Arena.with(floats: d + hidden + candidateCount * max(d, featureDimension) + 2 * candidateCount * widest) { arena in
      let user = arena.floats(d)
      let shared = arena.floats(hidden)
      let gathered = arena.floats(candidateCount * max(d, featureDimension))
      let activations = arena.floats(candidateCount * widest)
      let next = arena.floats(candidateCount * widest)

      // shared = b1 + W1[:, 0..<d] · u + W1[:, 2d..<2d+C] · context
      history.withUnsafeBufferPointer { history in
        Kernels.meanOfRows(matrix: items.embedding, rowIndices: history, dim: d, output: user)
      }
      _ = shared.initialize(from: first.bias)
      Kernels.gemv(matrix: first.weight, vector: UnsafeBufferPointer(user), output: shared,
                   rows: hidden, columns: d, matrixStride: first.inputs, beta: 1)
      if contextDimension > 0 {
        Kernels.gemv(matrix: first.columns(from: 2 * d), vector: request.context, output: shared,
                     rows: hidden, columns: contextDimension, matrixStride: first.inputs, beta: 1)
      }
      // Layer 1 over all candidates: item_emb[rows] · W1[:, d..<2d]ᵀ + shared (as the bias), then
      // + features[known] · W1[:, 2d+C...]ᵀ.
      rows.withUnsafeBufferPointer { rows in
        Kernels.gatherRows(matrix: items.embedding, rowIndices: rows, dim: d, output: gathered)
      }
      Kernels.linear(input: UnsafeBufferPointer(gathered), weight: first.columns(from: d),
                     bias: UnsafeBufferPointer(shared), output: activations, rows: candidateCount,
                     inFeatures: d, outFeatures: hidden, weightStride: first.inputs)
      if featureDimension > 0 {
        positions.withUnsafeBufferPointer { positions in
          Kernels.gatherRows(matrix: request.candidateFeatures, rowIndices: positions, dim: featureDimension, output: gathered)
        }
        Kernels.linear(input: UnsafeBufferPointer(gathered), weight: first.columns(from: 2 * d + contextDimension),
                       bias: nil, output: activations, rows: candidateCount, inFeatures: featureDimension,
                       outFeatures: hidden, weightStride: first.inputs, accumulate: true)
      }
      let scores = try forwardAfterFirstLayer(activations, next: next, rows: candidateCount, request: request)
      Ranking.writeTopCandidates(
        scores: scores, rows: rows, catalog: catalog, excluding: ExclusionSet(request, catalog: catalog), into: &result)
    }
  }

  /// Layer 1's ReLU (when more layers follow) and the layers after it, over `rows` rows of layer 1's
  /// pre-activations in `activations`: the scores, one per row.
  func forwardAfterFirstLayer(
    _ activations: UnsafeMutableBufferPointer<Float>, next: UnsafeMutableBufferPointer<Float>, rows: Int,
    request: Request
  ) throws -> UnsafeBufferPointer<Float> {
    if layers.count > 1 { Kernels.relu(UnsafeMutableBufferPointer(rebasing: activations[0..<rows * layers[0].outputs])) }
    let output = try LinearLayer.forward(
      layers.dropFirst(), rows: rows, activations: activations, next: next, isCancelled: { request.isCancelled })
    return UnsafeBufferPointer(rebasing: output[0..<rows])
  }
}

import PluginAPI
import RecSysKernels

/// The `mlp` kind (models.md): score = mlp(concat(mean(history), item, context, features)).
///
/// Layer 1 is applied block by block: the user/context block is the same for every candidate, so
/// it is one GEMV per request (`shared`); the item block comes from the per-item cache (below) or
/// from a GEMM over the gathered candidate embeddings with `shared` as its bias; the feature block
/// is one more GEMM accumulated on top, or, from the cache, summed in the same pass as the gather
/// (a GEMM of K = F = 8 costs more than its arithmetic). Bias and ReLU are fused into one pass
/// after each GEMM.
///
/// The layer-1 item-block cache (`itemBlocks`, issue 19): item_emb · W1[:, d..<2d]ᵀ for every
/// catalog item, computed at load, turns the largest per-candidate GEMM into a row gather + add.
/// It trades 2 d h1 FLOPs per candidate for reading h1 floats per candidate (instead of d) from a
/// table of N·h1·4 bytes. See `ItemBlockCache.isUsed` for when it is on.
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
  let itemBlocks: ItemBlockCache?  // layer 1's item block per catalog item, when it pays

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
    let setting = try manifest.choice("layer1_item_cache", among: ["auto", "on", "off"], default: "auto")
    itemBlocks = try ItemBlockCache.isUsed(
      setting: setting, catalogSize: items.catalog.count, dimension: items.dimension, firstHidden: layers[0].outputs)
      ? ItemBlockCache(
        items: items, firstLayer: layers[0], featureColumn: 2 * items.dimension + contextDimension,
        featureCount: featureDimension) : nil
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
      // Layer 1 over all candidates: item block + shared + features[known] · W1[:, 2d+C...]ᵀ, ReLU
      // when more layers follow. From the cache it is one pass; else a GEMM over the gathered
      // embeddings (shared as its bias), then one over the gathered features accumulated on top.
      let relu = layers.count > 1
      rows.withUnsafeBufferPointer { rows in
        positions.withUnsafeBufferPointer { positions in
          if let itemBlocks {
            let features = Kernels.FeatureBlock(
              values: request.candidateFeatures, rows: positions, width: featureDimension,
              weights: itemBlocks.featureWeights)
            Kernels.gatherRowsAdding(matrix: itemBlocks.table, rowIndices: rows, vector: UnsafeBufferPointer(shared),
                                     dim: hidden, output: activations, features: features, relu: relu)
            return
          }
          Kernels.gatherRows(matrix: items.embedding, rowIndices: rows, dim: d, output: gathered)
          Kernels.linear(input: UnsafeBufferPointer(gathered), weight: first.columns(from: d),
                         bias: UnsafeBufferPointer(shared), output: activations, rows: candidateCount,
                         inFeatures: d, outFeatures: hidden, weightStride: first.inputs,
                         relu: relu && featureDimension == 0)
          if featureDimension > 0 {
            Kernels.gatherRows(matrix: request.candidateFeatures, rowIndices: positions, dim: featureDimension, output: gathered)
            Kernels.linear(input: UnsafeBufferPointer(gathered), weight: first.columns(from: 2 * d + contextDimension),
                           bias: nil, output: activations, rows: candidateCount, inFeatures: featureDimension,
                           outFeatures: hidden, weightStride: first.inputs, accumulate: true, relu: relu)
          }
        }
      }
      let scores = try forwardAfterFirstLayer(activations, next: next, rows: candidateCount, request: request)
      Ranking.writeTopCandidates(
        scores: scores, rows: rows, catalog: catalog, excluding: ExclusionSet(request, catalog: catalog), into: &result)
    }
  }

  /// The layers after the first, over `rows` rows of layer 1's outputs (ReLU applied) in
  /// `activations`: the scores, one per row.
  func forwardAfterFirstLayer(
    _ activations: UnsafeMutableBufferPointer<Float>, next: UnsafeMutableBufferPointer<Float>, rows: Int,
    request: Request
  ) throws -> UnsafeBufferPointer<Float> {
    let output = try LinearLayer.forward(
      layers.dropFirst(), rows: rows, activations: activations, next: next, isCancelled: { request.isCancelled })
    return UnsafeBufferPointer(rebasing: output[0..<rows])
  }
}

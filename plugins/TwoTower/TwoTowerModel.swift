import PluginAPI
import RecSysKernels

/// The `two_tower` kind (docs/models.md): a user tower and an item tower meet in a dot product.
///
///     user  = user_tower(concat(mean(item_emb[history]), context))        [D]  (zeros(d) for no history)
///     item  = item_tower(concat(item_emb[r], item_features[r]))           [D]  per catalog row r
///     score = user · item_c   (no candidates: the whole catalog)
///
/// The item tower does not depend on the request, so it runs once per version at load over the
/// whole catalog (`itemVectors`, N x D floats besides the weights); from then on this is a
/// dot-product kind like lstm and sasrec: candidates are `dotRows` over that table, and the whole
/// catalog goes through the version's `CatalogRetrieval` (exact, quantized or approximate, with the
/// request's exclusions), built over the item-tower table instead of `item_emb`.
///
/// Requests' candidate_features are not an input (item features live in the file); a request that
/// sends some is served as if it had not.
public final class TwoTowerModel: RecommenderModel {
  public static let kind = "two_tower"
  public static let version = "1.0.0"
  public static let needsCandidates = false
  public static let tensorSpecs = EmbeddedCatalog.tensorSpecs
    + TensorSpec.linearStack("user_tower") + TensorSpec.linearStack("item_tower")
    // Present exactly when model.json's item_feature_dim > 0.
    + [TensorSpec("item_features", shape: "N,*", required: false)]
  /// Catalog rows per item-tower pass at load (bounds the load's scratch whatever N is).
  static let loadBlockRows = 4096

  let catalog: Catalog
  let contextDimension: Int  // C
  let maxHistory: Int  // L
  let itemEmbedding: UnsafeBufferPointer<Float>  // [N x d]
  let dimension: Int  // d
  let userTower: [LinearLayer]
  let widestUserLayer: Int
  let itemVectors: ItemTable  // [N x D], the item tower's output per row
  /// Whole-catalog search over `itemVectors` (model.json "retrieval"), built at load.
  let retrieval: CatalogRetrieval

  public init(manifest: Manifest, tensors: Tensors) throws {
    contextDimension = try manifest.integer("context_dim", in: Manifest.Range.featureCount)
    let featureDimension = try manifest.integer("item_feature_dim", default: 0, in: Manifest.Range.featureCount)
    maxHistory = try manifest.integer("max_history", in: Manifest.Range.maxHistory)
    let items = try EmbeddedCatalog(tensors)
    (catalog, itemEmbedding, dimension) = (items.catalog, items.embedding, items.dimension)
    let rows = catalog.count
    let itemFeatures = featureDimension > 0
      ? try tensors.floats("item_features", shape: [rows, featureDimension]) : UnsafeBufferPointer(start: nil, count: 0)
    userTower = try LinearLayer.sequence(
      tensors, prefix: "user_tower", inputs: dimension + contextDimension, inputsMeaning: "d + C")
    let itemTower = try LinearLayer.sequence(
      tensors, prefix: "item_tower", inputs: dimension + featureDimension, inputsMeaning: "d + item_feature_dim")
    let outputs = userTower.last!.outputs
    guard itemTower.last!.outputs == outputs else {
      throw ModelError.invalidArgument(
        "the towers must meet in one size: user_tower ends in \(outputs) outputs, item_tower in \(itemTower.last!.outputs)")
    }
    widestUserLayer = userTower.map(\.outputs).max()!

    itemVectors = try ItemTable(
      rows: rows, width: outputs, what: "the precomputed item-tower outputs", smaller: "a smaller catalog or tower output")
    Self.runItemTower(itemTower, embedding: itemEmbedding, dimension: dimension, features: itemFeatures,
                      featureDimension: featureDimension, rows: rows, into: itemVectors.values)
    retrieval = try CatalogRetrieval(
      manifest: manifest, catalog: catalog, itemEmbedding: UnsafeBufferPointer(itemVectors.values), dimension: outputs)
  }

  /// item_tower(concat(item_emb[r], item_features[r])) for every row, `loadBlockRows` rows at a time.
  private static func runItemTower(
    _ layers: [LinearLayer], embedding: UnsafeBufferPointer<Float>, dimension d: Int,
    features: UnsafeBufferPointer<Float>, featureDimension f: Int, rows: Int,
    into output: UnsafeMutableBufferPointer<Float>
  ) {
    guard rows > 0 else { return }
    let outputs = layers.last!.outputs
    let width = max(d + f, layers.map(\.outputs).max()!)
    let block = min(rows, loadBlockRows)
    Arena.with(floats: 2 * block * width) { arena in
      let activations = arena.floats(block * width)
      let next = arena.floats(block * width)
      for start in stride(from: 0, to: rows, by: block) {
        let count = min(block, rows - start)
        for r in 0..<count {
          let input = activations.baseAddress! + r * (d + f)
          input.update(from: embedding.baseAddress! + (start + r) * d, count: d)
          if f > 0 { (input + d).update(from: features.baseAddress! + (start + r) * f, count: f) }
        }
        // Cannot throw: nothing to cancel at load.
        let result = try! LinearLayer.forward(layers[...], rows: count, activations: activations, next: next)
        (output.baseAddress! + start * outputs).update(from: result.baseAddress!, count: count * outputs)
      }
    }
  }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    try request.requireContext(count: contextDimension)
    let history = catalog.historyRows(request, maxLength: maxHistory)
    let d = dimension
    let inputs = d + contextDimension
    let width = max(inputs, widestUserLayer)
    let scoreCount = Ranking.dotProductScoreCount(request)
    try Arena.with(floats: 2 * width + scoreCount) { arena in
      let activations = arena.floats(width)
      let next = arena.floats(width)
      let scores = arena.floats(scoreCount)

      // user = user_tower(concat(mean(item_emb[history]), context))
      history.withUnsafeBufferPointer { history in
        Kernels.meanOfRows(matrix: itemEmbedding, rowIndices: history, dim: d,
                           output: UnsafeMutableBufferPointer(rebasing: activations[0..<d]))
      }
      if contextDimension > 0 {
        (activations.baseAddress! + d).update(from: request.context.baseAddress!, count: contextDimension)
      }
      let user = try LinearLayer.forward(
        userTower[...], rows: 1, activations: activations, next: next, isCancelled: { request.isCancelled })
      try Ranking.writeTopDotProducts(
        userVector: UnsafeBufferPointer(rebasing: user[0..<userTower.last!.outputs]), retrieval: retrieval,
        request: request, scores: scores, into: &result)
    }
  }
}

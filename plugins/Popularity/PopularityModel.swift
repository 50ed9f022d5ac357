import PluginAPI

/// The `popularity` kind: every user gets the catalog's most popular items.
/// A sensible A/B control, and the smallest complete example of a plugin.
///
/// Files: model.json `{"kind": "popularity", "sha256": "..."}`, weights.safetensors with
/// `item_ids` int64 [N] and `popularity` float32 [N] (any score where higher is better).
public final class PopularityModel: RecommenderModel {
  public static let kind = "popularity"
  public static let version = "1.0.0"
  public static let tensorSpecs = [
    TensorSpec.itemIDs,
    TensorSpec("popularity", shape: "N"),
  ]
  /// It ranks the whole catalog when a request names no candidates.
  public static let needsCandidates = false

  let catalog: Catalog
  let popularity: UnsafeBufferPointer<Float>

  public init(manifest: Manifest, tensors: Tensors) throws {
    catalog = try Catalog(itemIDs: try tensors.int64s("item_ids"))
    popularity = try tensors.floats("popularity")
  }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    let excluded = ExclusionSet(request, catalog: catalog)
    if request.candidateItemIDs.isEmpty {
      Ranking.writeTopCatalog(scores: popularity, catalog: catalog, excluding: excluded, into: &result)
      return
    }
    let (rows, _) = catalog.candidates(request, reportingUnknownTo: &result)
    let scores = rows.map { popularity[Int($0)] }
    scores.withUnsafeBufferPointer { scores in
      Ranking.writeTopCandidates(scores: scores, rows: rows, catalog: catalog, excluding: excluded, into: &result)
    }
  }
}

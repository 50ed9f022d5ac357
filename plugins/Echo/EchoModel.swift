import PluginAPI

/// The `echo` kind: returns the request's first `top_k` candidates in request order, scored
/// `-index` (so the order is stable) with propensity 1. No model runs and unknown candidates are
/// not checked: it exists to measure the sidecar's own overhead (gRPC, routing, the plugin call,
/// writing the response) as a floor for the benchmarks (bench/, docs/benchmarks.md).
///
/// Files: model.json `{"kind": "echo", "sha256": "..."}`, weights.safetensors with `item_ids`
/// int64 [N] only.
public final class EchoModel: RecommenderModel {
  public static let kind = "echo"
  public static let version = "1.0.0"
  public static let tensorSpecs = [TensorSpec("item_ids", .int64, shape: "N")]

  public init(manifest: Manifest, tensors: Tensors) throws {
    _ = try tensors.int64s("item_ids")
  }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    try request.requireCandidates(kind: Self.kind)
    for (index, itemID) in request.candidateItemIDs.prefix(result.capacity).enumerated() {
      result.append(itemID: itemID, score: -Float(index))
    }
  }
}

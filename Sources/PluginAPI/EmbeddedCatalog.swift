/// What every embedding kind reads first (models.md, "Common to all kinds"): `item_ids` [N] and
/// `item_emb.weight` [N x d], the catalog over the ids, and d.
public struct EmbeddedCatalog {
  public let catalog: Catalog
  public let embedding: UnsafeBufferPointer<Float>  // [N x d]
  public let dimension: Int  // d

  /// The two tensors' specs, the first entries of such a kind's `tensorSpecs`.
  public static let tensorSpecs = [
    TensorSpec.itemIDs,
    TensorSpec("item_emb.weight", shape: "N,d"),
  ]

  public init(_ tensors: Tensors) throws {
    dimension = try tensors.shape("item_emb.weight")[1]
    embedding = try tensors.floats("item_emb.weight")
    catalog = try Catalog(itemIDs: tensors.int64s("item_ids"))
  }
}

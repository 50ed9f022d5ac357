import PluginAPI
import RecSysKernels

/// Layer 1's item block for every catalog item: `table[r, :] = item_emb[r] · W1[:, d..<2d]ᵀ`
/// ([N x h1], computed once at load). A candidate's item block is then one row read instead of
/// a d x h1 product.
final class ItemBlockCache {
  /// The FLOPs a cached candidate must save per extra byte it reads. 32 while the gather was a
  /// Swift loop over 4 KiB pages (~2.5 GB/s of scattered rows under load); with the prefetching C
  /// pass on huge pages the cache won at every mlp sweep point from 17 FLOPs per byte up (below).
  static let minSavedFlopsPerExtraByte = 16
  /// The cache's absolute size bound per model version: this machine's last-level cache (32 MiB);
  /// the largest table measured (20 MB) stays under it.
  static let maxBytes = 32 << 20
  /// The bound when model.json forces the cache on.
  static let maxForcedBytes = 1 << 30

  /// When the cache is built: model.json `layer1_item_cache` "on" / "off" forces it; "auto" (the
  /// default) builds it when the 2·d·h1 FLOPs it saves per candidate are at least
  /// `minSavedFlopsPerExtraByte` per extra byte read ((h1 - d)·4: a cache row instead of an
  /// embedding row), and the table is at most `maxBytes`.
  ///
  /// Why that rule (in process, mlp sweep points, cache on vs off, docs/bench-sweep-notes.md): with
  /// the Swift gather the cache won 1.3-1.7x at 64-128 FLOPs per extra byte (d 64 h1 128, d 128),
  /// 1.08-1.14x at 43 (d 64 h1 256, issue 19's mlp_A), tied at 18-21 and lost at 17. With the C
  /// gather (recsys_gather_rows_add) it won 1.15-1.3x at 21 (d 32 h1 128: mlp_B, mlp_B_C16,
  /// mlp_B_candidates2000), 1.09x at 18 (mlp_A_d32) and 1.02x at 17 (d 32 h1 512).
  static func isUsed(setting: String, catalogSize: Int, dimension: Int, firstHidden: Int) throws -> Bool {
    let (bytes, overflow) = catalogSize.multipliedReportingOverflow(by: firstHidden * MemoryLayout<Float>.size)
    switch setting {
    case "on":
      // Forced on, the table is still bounded: a load that cannot allocate it must fail with a
      // reason, not trap.
      guard !overflow && bytes <= maxForcedBytes else {
        throw ModelError.invalidArgument(
          "model.json: \"layer1_item_cache\" \"on\" needs N x h1 = \(catalogSize) x \(firstHidden) floats; "
            + "at most \(maxForcedBytes >> 20) MiB")
      }
      return true
    case "off": return false
    default:
      let savedFlops = 2 * dimension * firstHidden
      let extraBytes = (firstHidden - dimension) * MemoryLayout<Float>.size
      return savedFlops >= minSavedFlopsPerExtraByte * extraBytes && !overflow && bytes <= maxBytes
    }
  }

  let table: UnsafeBufferPointer<Float>  // [N x h1]
  /// W1's candidate-feature columns transposed, [F x h1]: the gather adds the feature block in the
  /// same pass (Kernels.FeatureBlock) instead of a GEMM of K = F.
  let featureWeights: UnsafeBufferPointer<Float>
  private let storage: UnsafeMutableBufferPointer<Float>
  private let onHugePages: Bool

  init(items: EmbeddedCatalog, firstLayer: LinearLayer, featureColumn: Int, featureCount: Int) {
    let d = items.dimension
    let rows = items.catalog.count
    let h1 = firstLayer.outputs
    // Huge pages where the system grants them: candidates' rows are scattered over the table, and
    // with 4 KiB pages nearly every one is a TLB miss as well as a cache miss.
    if let table = Kernels.allocateScanTable(of: Float.self, count: rows * h1) {
      (storage, onHugePages) = (table, true)
    } else {
      (storage, onHugePages) = (.allocate(capacity: rows * h1), false)
    }
    Kernels.linear(input: items.embedding, weight: firstLayer.columns(from: d), bias: nil, output: storage,
                   rows: rows, inFeatures: d, outFeatures: h1, weightStride: firstLayer.inputs)
    table = UnsafeBufferPointer(storage)
    let transposed = UnsafeMutableBufferPointer<Float>.allocate(capacity: featureCount * h1)
    for f in 0..<featureCount {
      for o in 0..<h1 { transposed[f * h1 + o] = firstLayer.weight[o * firstLayer.inputs + featureColumn + f] }
    }
    featureWeights = UnsafeBufferPointer(transposed)
  }

  deinit {
    if onHugePages { Kernels.freeScanTable(storage) } else { storage.deallocate() }
    UnsafeMutableBufferPointer(mutating: featureWeights).deallocate()
  }
}

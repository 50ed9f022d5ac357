import PluginAPI
import RecSysKernels

/// Layer 1's item block for every catalog item: `table[r, :] = item_emb[r] · W1[:, d..<2d]ᵀ`
/// ([N x h1], computed once at load). A candidate's item block is then one row read instead of
/// a d x h1 product.
final class ItemBlockCache {
  /// The cache's size bound, in multiples of the item table it is derived from (N·h1 vs N·d
  /// floats): h1 <= 4d.
  static let maxTableMultiple = 4
  /// The cache's absolute size bound per model version: this machine's last-level cache (32 MiB),
  /// the largest table measured (20 MB) stays under it.
  static let maxBytes = 32 << 20

  /// When the cache is built: model.json `layer1_item_cache` "on" / "off" forces it; "auto" (the
  /// default) builds it when it is at most `maxTableMultiple` x the item table and `maxBytes`.
  ///
  /// Why that rule (in process, 16 mlp sweep points, cache on vs off, docs/bench-sweep-notes.md):
  /// per candidate the cache saves 2 d h1 FLOPs and reads h1 scattered floats instead of d. At
  /// h1 <= 2d it won 1.3-1.7x, at h1 = 4d 1.0-1.15x, at h1 = 8d and 16d it lost (0.93-1.0x): the
  /// extra cache lines per candidate then cost more than the GEMM they save.
  static func isUsed(setting: String, catalogSize: Int, dimension: Int, firstHidden: Int) -> Bool {
    switch setting {
    case "on": return true
    case "off": return false
    default:
      let (bytes, overflow) = catalogSize.multipliedReportingOverflow(by: firstHidden * MemoryLayout<Float>.size)
      return firstHidden <= maxTableMultiple * dimension && !overflow && bytes <= maxBytes
    }
  }

  let table: UnsafeBufferPointer<Float>  // [N x h1]

  init(items: EmbeddedCatalog, firstLayer: LinearLayer) {
    let d = items.dimension
    let rows = items.catalog.count
    let storage = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows * firstLayer.outputs)
    Kernels.linear(input: items.embedding, weight: firstLayer.columns(from: d), bias: nil, output: storage,
                   rows: rows, inFeatures: d, outFeatures: firstLayer.outputs, weightStride: firstLayer.inputs)
    table = UnsafeBufferPointer(storage)
  }

  deinit { UnsafeMutableBufferPointer(mutating: table).deallocate() }
}

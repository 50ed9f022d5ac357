import CRecSysPlugin
import Foundation
import Checksums
import PluginHost
import SafeTensors

/// A version that passed every check and answered a warm-up request.
public struct LoadedVersion: Sendable {
  public let model: ServingModel
  public let sha256: String
  public let description: String
}

/// Turns a store version into a serving instance, refusing anything that could
/// fail or mislead later: mmap weights -> verify sha256 -> tensors vs the kind's
/// specs -> no NaN/Inf -> create -> warm-up request. Nothing here touches what serves.
struct VersionLoader {
  let plugins: PluginSet

  func load(_ version: StoreLayout.Version) throws -> LoadedVersion {
    let manifest: ModelManifest
    do {
      manifest = try ModelManifest(contentsOf: version.manifestPath)
    } catch {
      throw LoadError("model.json: \(error)")
    }
    guard let plugin = plugins.plugin(forKind: manifest.kind) else {
      let known = plugins.byKind.keys.sorted().joined(separator: ", ")
      throw LoadError("no plugin serves kind \"\(manifest.kind)\" (loaded kinds: \(known.isEmpty ? "none" : known)); "
        + "add its plugin to the plugins directory")
    }
    guard let expectedDigest = manifest.sha256 else {
      throw LoadError("model.json has no \"sha256\"; add the sha256 of weights.safetensors (sha256sum weights.safetensors)")
    }
    let weights = try SafeTensorsFile(path: version.weightsPath)
    let digest = weights.withUnsafeBytes { SHA256.hex(of: $0) }
    guard digest == expectedDigest else {
      throw LoadError("weights.safetensors has sha256 \(digest), but model.json says \(expectedDigest): "
        + "the file is corrupt, truncated or not the one the manifest describes")
    }
    let views = weights.tensors.map { tensor in
      TensorView(name: tensor.name, dtype: tensor.dtype.rawValue, shape: tensor.shape,
                 data: tensor.data.baseAddress, byteCount: tensor.data.count)
    }
    try TensorRequirementCheck.check(views, against: plugin.tensorRequirements, kind: plugin.kind)
    try Self.requireFinite(weights)
    let instance = try plugin.createInstance(manifestJSON: manifest.json, tensors: views, owner: weights)
    let model = ServingModel(name: version.model, version: version.number, kind: manifest.kind, instance: instance)
    try Self.warmUp(model, manifest: manifest, itemIDs: weights.tensor(named: "item_ids").map { Array($0.int64s.prefix(8)) } ?? [])
    return LoadedVersion(model: model, sha256: digest, description: manifest.description ?? "")
  }

  /// A NaN or Inf weight would silently poison every score.
  static func requireFinite(_ weights: SafeTensorsFile) throws {
    for tensor in weights.tensors where tensor.dtype == .float32 {
      let values = tensor.floats
      var allFinite = true
      for value in values { allFinite = allFinite && value.isFinite }
      if !allFinite {
        let index = values.firstIndex { !$0.isFinite }!
        throw LoadError("tensor \"\(tensor.name)\" holds \(values[index]) at element \(index); weights must be finite")
      }
    }
  }

  /// One synthetic request through the plugin before the version may serve: it
  /// faults in the pages and builds lazy state, so the first real request is not slow,
  /// and a version that cannot answer never serves. Uses the models.md hyperparameters
  /// context_dim and candidate_feature_dim (absent: 0).
  static func warmUp(_ model: ServingModel, manifest: ModelManifest, itemIDs: [Int64]) throws {
    let contextCount = (try? manifest.integer("context_dim", default: 0)) ?? 0
    let featureCount = ((try? manifest.integer("candidate_feature_dim", default: 0)) ?? 0) * itemIDs.count
    let context = [Float](repeating: 0, count: contextCount)
    let features = [Float](repeating: 0, count: featureCount)
    let history = Array(itemIDs.prefix(2))
    let types = [Int32](repeating: 1, count: history.count)
    var requests: [[Int64]] = [itemIDs]
    if !model.instance.plugin.needsCandidates { requests.append([]) }
    for candidates in requests {
      let capacity = 5
      var ids = [Int64](repeating: 0, count: capacity)
      var scores = [Float](repeating: 0, count: 2 * capacity)
      var unknown = [Int64](repeating: 0, count: max(candidates.count, 1))
      do {
        // Every pointer the request holds must outlive the call: scope them all.
        try history.withUnsafeBufferPointer { history in
          try types.withUnsafeBufferPointer { types in
            try candidates.withUnsafeBufferPointer { candidates in
              try features.withUnsafeBufferPointer { features in
                try context.withUnsafeBufferPointer { context in
                  try ids.withUnsafeMutableBufferPointer { ids in
                    try scores.withUnsafeMutableBufferPointer { scores in
                      try unknown.withUnsafeMutableBufferPointer { unknown in
                        var request = recsys_request(
                          history_item_ids: history.baseAddress, history_types: types.baseAddress,
                          history_count: history.count,
                          candidate_item_ids: candidates.baseAddress, candidate_count: candidates.count,
                          candidate_features: candidates.isEmpty ? nil : features.baseAddress,
                          candidate_feature_count: candidates.isEmpty ? 0 : features.count,
                          context: context.baseAddress, context_count: context.count,
                          top_k: UInt32(capacity), exclude_history: 0, seed: 1, cancelled: nil)
                        var result = recsys_result(
                          item_ids: ids.baseAddress, scores: scores.baseAddress,
                          propensities: scores.baseAddress! + capacity, capacity: capacity, count: 0,
                          unknown_item_ids: unknown.baseAddress, unknown_count: 0)
                        try model.instance.recommend(&request, into: &result)
                        if result.count > capacity || !scores[0..<result.count].allSatisfy(\.isFinite) {
                          throw LoadError("the warm-up request returned \(result.count) items or non-finite scores")
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      } catch let error as PluginError {
        throw LoadError("the warm-up request failed: \(error.message)")
      }
    }
  }
}

/// Why a version was refused; the message says what to fix.
public struct LoadError: Error, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}

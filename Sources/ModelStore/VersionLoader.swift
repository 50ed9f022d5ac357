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
      do {
        let answer = try model.instance.recommend(ModelRequest(
          historyItemIDs: history, historyTypes: types, candidateItemIDs: candidates,
          candidateFeatures: candidates.isEmpty ? [] : features, context: context, topK: 5))
        if !answer.scores.allSatisfy(\.isFinite) {
          throw LoadError("the warm-up request returned non-finite scores")
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

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
/// fail or mislead later: read weights into private memory -> verify sha256 over those bytes ->
/// tensors vs the kind's specs -> no NaN/Inf -> create -> warm-up request. Nothing here touches
/// what serves.
public struct VersionLoader {
  let plugins: PluginSet

  public init(plugins: PluginSet) {
    self.plugins = plugins
  }

  func load(_ version: StoreLayout.Version) throws -> LoadedVersion {
    let manifest: ModelManifest
    do {
      manifest = try ModelManifest(contentsOf: version.manifestPath)
    } catch {
      throw LoadError("model.json: \(error)")
    }
    let plugin = try plugin(for: manifest)
    guard let expectedDigest = manifest.sha256 else {
      throw LoadError("model.json has no \"sha256\"; add the sha256 of weights.safetensors (sha256sum weights.safetensors)")
    }
    let weights = try SafeTensorsFile(path: version.weightsPath)
    // Over the bytes the tensors point into: what was checked is exactly what serves.
    let digest = weights.withUnsafeBytes { SHA256.hex(of: $0) }
    guard digest == expectedDigest else {
      throw LoadError("weights.safetensors has sha256 \(digest), but model.json says \(expectedDigest): "
        + "the file is corrupt, truncated or not the one the manifest describes")
    }
    return try instantiate(manifest, plugin, weights, digest: digest, model: version.model, version: version.number)
  }

  /// The production load path on manifest text and weights already in memory, skipping only the
  /// sha256 requirement and comparison (a fuzzer cannot produce a matching digest). For the
  /// `model-json` fuzz target; the store always goes through `load(_:)`.
  public func loadSkippingChecksum(manifestJSON: String, weights: SafeTensorsFile,
                                   model: String = "fuzz", version: Int = 1) throws -> LoadedVersion {
    let manifest: ModelManifest
    do {
      manifest = try ModelManifest(json: manifestJSON)
    } catch {
      throw LoadError("model.json: \(error)")
    }
    let plugin = try plugin(for: manifest)
    return try instantiate(manifest, plugin, weights, digest: "", model: model, version: version)
  }

  private func plugin(for manifest: ModelManifest) throws -> Plugin {
    guard let plugin = plugins.plugin(forKind: manifest.kind) else {
      let known = plugins.byKind.keys.sorted().joined(separator: ", ")
      throw LoadError("no plugin serves kind \"\(manifest.kind)\" (loaded kinds: \(known.isEmpty ? "none" : known)); "
        + "add its plugin to the plugins directory")
    }
    return plugin
  }

  /// Everything after the checksum: tensor checks, finiteness, create, warm-up.
  private func instantiate(_ manifest: ModelManifest, _ plugin: Plugin, _ weights: SafeTensorsFile,
                           digest: String, model name: String, version number: Int) throws -> LoadedVersion {
    let views = weights.tensors.map { tensor in
      TensorView(name: tensor.name, dtype: tensor.dtype.rawValue, shape: tensor.shape,
                 data: tensor.data.baseAddress, byteCount: tensor.data.count)
    }
    // The tensor specs are checked once, by createInstance, before the plugin sees them.
    try Self.requireFinite(weights)
    let instance = try plugin.createInstance(
      model: "\(name)@\(number)", manifestJSON: manifest.json, tensors: views, owner: weights)
    let model = ServingModel(name: name, version: number, kind: manifest.kind, instance: instance)
    try Self.warmUp(model, manifest: manifest, itemIDs: Self.firstItemIDs(weights))
    return LoadedVersion(model: model, sha256: digest, description: manifest.description ?? "")
  }

  /// Up to 8 catalog ids for the warm-up request; none when the kind has no int64 `item_ids`
  /// (a plugin that does not ask for it, e.g. one written in C, may get any dtype under that name).
  static func firstItemIDs(_ weights: SafeTensorsFile) -> [Int64] {
    guard let ids = weights.tensor(named: "item_ids"), ids.dtype == .int64 else { return [] }
    return Array(ids.int64s.prefix(8))
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
  /// context_dim and candidate_feature_dim (absent: 0; bounded by `ModelManifest.hyperparameterRanges`).
  static func warmUp(_ model: ServingModel, manifest: ModelManifest, itemIDs: [Int64]) throws {
    // Checked values, never `try?`: a value outside the range is refused, not computed with.
    let ranges = ModelManifest.hyperparameterRanges
    let contextCount = try manifest.integer("context_dim", default: 0, in: ranges["context_dim"]!)
    let featureCount = try manifest.integer("candidate_feature_dim", default: 0, in: ranges["candidate_feature_dim"]!)
      * itemIDs.count
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
      } catch let error as PluginAnswerError {
        throw LoadError("the warm-up request failed: \(error.description)")
      }
    }
  }
}

/// Why a version was refused; the message says what to fix.
public struct LoadError: Error, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}

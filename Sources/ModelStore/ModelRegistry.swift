import Foundation
import Logging
import PluginHost
import SafeTensors

/// A model version that serves: the plugin instance and where it came from.
/// Requests hold a reference for their duration, so replacing a model never pulls
/// an instance out from under a running call.
public final class ServingModel: @unchecked Sendable {
  public let name: String
  public let version: Int
  public let kind: String
  public let instance: ModelInstance

  init(name: String, version: Int, kind: String, instance: ModelInstance) {
    self.name = name
    self.version = version
    self.kind = kind
    self.instance = instance
  }
}

/// A selector that no loaded model answers.
public struct RegistryError: Error, CustomStringConvertible {
  public let description: String
}

/// The models the sidecar serves, one instance per model: the highest version in the
/// store. Lookups take a lock for a dictionary read only; scoring holds none.
public final class ModelRegistry: @unchecked Sendable {
  private let layout: StoreLayout
  private let plugins: PluginSet
  private let logger: Logger
  private let lock = NSLock()
  private var serving: [String: ServingModel] = [:]
  private var failures: [String: String] = [:]

  public init(storePath: String, plugins: PluginSet, logger: Logger) {
    layout = StoreLayout(root: storePath)
    self.plugins = plugins
    self.logger = logger
  }

  /// Loads the highest version of every model in the store; a failure is logged and
  /// recorded for that model and does not stop the others.
  public func loadAll() {
    let names: [String]
    do {
      names = try layout.modelNames()
    } catch {
      logger.error("cannot read the model store", metadata: ["store": "\(layout.root)", "error": "\(error)"])
      return
    }
    for name in names {
      do {
        guard let version = try layout.highestVersion(of: name) else {
          throw RegistryError(description: "no complete version folder (<store>/\(name)/<N>/ with model.json and weights.safetensors)")
        }
        let model = try load(name: name, version: version)
        lock.withLock {
          serving[name] = model
          failures[name] = nil
        }
        logger.info("model loaded", metadata: ["model": "\(name)", "version": "\(model.version)", "kind": "\(model.kind)"])
      } catch {
        lock.withLock { failures[name] = "\(error)" }
        logger.error("model failed to load", metadata: ["model": "\(name)", "error": "\(error)"])
      }
    }
  }

  /// Reads a version's manifest, maps its weights and asks the kind's plugin for an instance.
  func load(name: String, version: StoreLayout.Version) throws -> ServingModel {
    let manifest = try ModelManifest(contentsOf: version.manifestPath)
    guard let plugin = plugins.plugin(forKind: manifest.kind) else {
      let known = plugins.byKind.keys.sorted().joined(separator: ", ")
      throw RegistryError(description:
        "no plugin serves kind \"\(manifest.kind)\" (loaded kinds: \(known.isEmpty ? "none" : known)); "
          + "add its plugin to the plugins directory")
    }
    let weights = try SafeTensorsFile(path: version.weightsPath)
    let views = weights.tensors.map { tensor in
      TensorView(name: tensor.name, dtype: tensor.dtype.rawValue, shape: tensor.shape,
                 data: tensor.data.baseAddress, byteCount: tensor.data.count)
    }
    do {
      let instance = try plugin.createInstance(manifestJSON: manifest.json, tensors: views, owner: weights)
      return ServingModel(name: name, version: version.number, kind: manifest.kind, instance: instance)
    } catch let error as PluginError {
      throw RegistryError(description: "\(name) version \(version.number): \(error.message)")
    }
  }

  /// The instance a selector names, or an error saying what is served instead.
  public func resolve(_ selector: ModelSelector) throws -> ServingModel {
    let (model, failure, names) = lock.withLock {
      (serving[selector.model], failures[selector.model], serving.keys.sorted())
    }
    guard let model else {
      if let failure {
        throw RegistryError(description: "model \"\(selector.model)\" is not serving: its load failed: \(failure)")
      }
      throw RegistryError(description:
        "model \"\(selector.model)\" does not exist; serving models: \(names.isEmpty ? "none" : names.joined(separator: ", "))")
    }
    switch selector.version {
    case .serving:
      return model
    case .number(let number):
      guard number == model.version else {
        throw RegistryError(description:
          "model \"\(selector.model)\" version \(number) is not loaded; version \(model.version) serves")
      }
      return model
    case .label(let label):
      throw RegistryError(description:
        "model \"\(selector.model)\" has no label \"\(label)\"; use \"\(selector.model)\" or \"\(selector.model)@\(model.version)\"")
    }
  }
}

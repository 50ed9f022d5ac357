import Foundation
import ModelStore
import Yams

/// Everything the sidecar is told: a YAML file (`--config`), then flags on top.
/// Unknown keys are errors, so a typo never silently does nothing.
public struct SidecarConfig: Equatable, Sendable {
  public var listen = "127.0.0.1:50051"
  /// ModelAdmin's listener; loopback by default, "" for none.
  public var adminListen = "127.0.0.1:50052"
  public var store = "demo/store"
  public var plugins = ".build/plugins"
  public var defaultModel = "mlp"
  /// How often the store and plugins directory are rescanned; 0 turns polling off.
  public var pollIntervalSeconds = 2.0
  public var models: [String: VersionPolicy] = [:]

  public init() {}

  public struct Invalid: Error, CustomStringConvertible {
    public let description: String
  }

  /// Parses a config file's text; `source` names it in errors.
  public init(yaml text: String, source: String) throws {
    let root: Any?
    do {
      root = try Yams.load(yaml: text)
    } catch {
      throw Invalid(description: "\(source): not valid YAML: \(error)")
    }
    guard let root = root as? [String: Any] else {
      if root == nil { return }
      throw Invalid(description: "\(source): the top level must be a mapping of settings")
    }
    let known = ["listen", "admin_listen", "store", "plugins", "default_model", "poll_interval_seconds", "models"]
    for key in root.keys.sorted() where !known.contains(key) {
      throw Invalid(description: "\(source): unknown key \"\(key)\" (known: \(known.joined(separator: ", ")))")
    }
    func string(_ key: String) throws -> String? {
      guard let value = root[key] else { return nil }
      guard let text = value as? String else { throw Invalid(description: "\(source): \"\(key)\" must be a string") }
      return text
    }
    listen = try string("listen") ?? listen
    adminListen = try string("admin_listen") ?? adminListen
    store = try string("store") ?? store
    plugins = try string("plugins") ?? plugins
    defaultModel = try string("default_model") ?? defaultModel
    if let value = root["poll_interval_seconds"] {
      guard let seconds = (value as? Double) ?? (value as? Int).map(Double.init), seconds >= 0 else {
        throw Invalid(description: "\(source): \"poll_interval_seconds\" must be a number >= 0")
      }
      pollIntervalSeconds = seconds
    }
    if let value = root["models"] {
      guard let models = value as? [String: Any] else {
        throw Invalid(description: "\(source): \"models\" must map model names to {pinned, labels}")
      }
      for (name, settings) in models { self.models[name] = try Self.policy(settings, at: "\(source): models.\(name)") }
    }
  }

  public init(contentsOf path: String) throws {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw Invalid(description: "cannot read config file \(path): \(error.localizedDescription)")
    }
    try self.init(yaml: text, source: path)
  }

  private static func policy(_ settings: Any, at place: String) throws -> VersionPolicy {
    guard let settings = settings as? [String: Any] else {
      throw Invalid(description: "\(place) must be a mapping with \"pinned\" and/or \"labels\"")
    }
    for key in settings.keys.sorted() where !["pinned", "labels"].contains(key) {
      throw Invalid(description: "\(place): unknown key \"\(key)\" (known: pinned, labels)")
    }
    var policy = VersionPolicy()
    if let pinned = settings["pinned"] {
      guard let version = pinned as? Int, version > 0 else {
        throw Invalid(description: "\(place).pinned must be a positive version number")
      }
      policy.pinned = version
    }
    if let labels = settings["labels"] {
      guard let labels = labels as? [String: Any] else {
        throw Invalid(description: "\(place).labels must map label names to versions, e.g. {stable: 3, canary: 4}")
      }
      for (label, version) in labels {
        guard let version = version as? Int, version > 0 else {
          throw Invalid(description: "\(place).labels.\(label) must be a positive version number")
        }
        policy.labels[label] = version
      }
    }
    return policy
  }
}

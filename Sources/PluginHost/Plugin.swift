import CRecSysPlugin
import Foundation

/// A loaded plugin library: one model kind, checked against this host's ABI.
/// Libraries are never unloaded (a Swift library cannot be dlclose()d safely), so
/// a newer plugin arrives as a new file.
public final class Plugin: @unchecked Sendable {
  public let path: String
  public let kind: String
  public let version: String
  public let abiVersion: String
  public let needsCandidates: Bool
  public let tensorRequirements: [TensorRequirement]
  let record: UnsafePointer<recsys_plugin>

  /// The host's ABI, for messages.
  public static let hostABIVersion = "\(RECSYS_PLUGIN_ABI_MAJOR).\(RECSYS_PLUGIN_ABI_MINOR)"

  /// Loads and checks the library at `path`; errors say which check failed.
  public static func load(path: String) throws -> Plugin {
    let resolved = try FileSafety.check(pluginAt: path)
    guard let handle = dlopen(resolved, RTLD_NOW | RTLD_LOCAL) else {
      throw PluginError(code: RECSYS_FAILED_PRECONDITION, "cannot load plugin \(path): \(String(cString: dlerror()))")
    }
    guard let symbol = dlsym(handle, RECSYS_PLUGIN_ENTRY_SYMBOL) else {
      throw PluginError(code: RECSYS_FAILED_PRECONDITION,
        "plugin \(path) does not export \(RECSYS_PLUGIN_ENTRY_SYMBOL)(); a plugin must export it "
          + "(in Swift: a public @_cdecl(\"\(RECSYS_PLUGIN_ENTRY_SYMBOL)\") function)")
    }
    let entry = unsafeBitCast(symbol, to: recsys_plugin_entry_fn.self)
    guard let record = entry() else {
      throw PluginError(code: RECSYS_FAILED_PRECONDITION, "plugin \(path): \(RECSYS_PLUGIN_ENTRY_SYMBOL)() returned NULL")
    }
    return try Plugin(path: path, record: record)
  }

  init(path: String, record: UnsafePointer<recsys_plugin>) throws {
    let plugin = record.pointee
    let pluginABI = "\(plugin.abi_major).\(plugin.abi_minor)"
    guard plugin.abi_major == RECSYS_PLUGIN_ABI_MAJOR else {
      throw PluginError(code: RECSYS_FAILED_PRECONDITION,
        "plugin \(path) was built for plugin ABI \(pluginABI), but this sidecar speaks ABI \(Self.hostABIVersion); "
          + "rebuild the plugin against this sidecar's recsys_plugin.h")
    }
    guard plugin.struct_size >= MemoryLayout<recsys_plugin>.size else {
      throw PluginError(code: RECSYS_FAILED_PRECONDITION,
        "plugin \(path) has a registration record of \(plugin.struct_size) bytes, smaller than ABI "
          + "\(Self.hostABIVersion) needs (\(MemoryLayout<recsys_plugin>.size)); rebuild the plugin")
    }
    guard let kind = plugin.kind.map({ String(cString: $0) }), !kind.isEmpty,
          plugin.create != nil, plugin.recommend != nil, plugin.destroy != nil
    else {
      throw PluginError(code: RECSYS_FAILED_PRECONDITION, "plugin \(path) lacks a kind or one of create/recommend/destroy")
    }
    self.path = path
    self.kind = kind
    version = plugin.plugin_version.map { String(cString: $0) } ?? "unknown"
    abiVersion = pluginABI
    needsCandidates = plugin.flags & RECSYS_PLUGIN_NEEDS_CANDIDATES != 0
    tensorRequirements = try (0..<plugin.tensor_spec_count).map { try TensorRequirement(plugin.tensor_specs[$0]) }
    self.record = record
  }

  /// Checks `tensors` against the kind's requirements, then creates an instance.
  /// `owner` keeps the tensor memory alive until the instance is destroyed.
  public func createInstance(manifestJSON: String, tensors: [TensorView], owner: AnyObject) throws -> ModelInstance {
    try TensorRequirementCheck.check(tensors, against: tensorRequirements, kind: kind)
    return try ModelInstance(plugin: self, manifestJSON: manifestJSON, tensors: tensors, owner: owner)
  }
}

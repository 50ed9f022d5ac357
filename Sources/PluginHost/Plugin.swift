import CRecSysPlugin
import Foundation
import RecSysStatus

/// A loaded plugin library: one model kind, checked against this host's ABI.
/// Libraries are never unloaded (a Swift library cannot be dlclose()d safely), so
/// a newer plugin arrives as a new file.
public final class Plugin: @unchecked Sendable {
  public let path: String
  public let kind: String
  public let version: String
  public let abiVersion: String
  /// The plugin's ABI minor: 2 and later honour eligibility filters (`excluded_sets`).
  public let abiMinor: UInt32
  public let needsCandidates: Bool
  public let tensorRequirements: [TensorRequirement]
  let record: UnsafePointer<recsys_plugin>

  /// The host's ABI, for messages.
  public static let hostABIVersion = "\(RECSYS_PLUGIN_ABI_MAJOR).\(RECSYS_PLUGIN_ABI_MINOR)"

  /// Loads and checks the library at `path`; errors say which check failed.
  public static func load(path: String) throws -> Plugin {
    let resolved = try FileSafety.check(pluginAt: path)
    guard let handle = dlopen(resolved, RTLD_NOW | RTLD_LOCAL) else {
      throw PluginError(code: .failedPrecondition, "cannot load plugin \(path): \(String(cString: dlerror()))")
    }
    guard let symbol = dlsym(handle, RECSYS_PLUGIN_ENTRY_SYMBOL) else {
      throw PluginError(code: .failedPrecondition,
        "plugin \(path) does not export \(RECSYS_PLUGIN_ENTRY_SYMBOL)(); a plugin must export it "
          + "(in Swift: a public @_cdecl(\"\(RECSYS_PLUGIN_ENTRY_SYMBOL)\") function)")
    }
    let entry = unsafeBitCast(symbol, to: recsys_plugin_entry_fn.self)
    guard let record = entry() else {
      throw PluginError(code: .failedPrecondition, "plugin \(path): \(RECSYS_PLUGIN_ENTRY_SYMBOL)() returned NULL")
    }
    return try Plugin(path: path, record: record)
  }

  /// The size of an ABI 1.0 record: every field before `explain`, the smallest record accepted.
  static let minimumRecordSize = MemoryLayout<recsys_plugin>.offset(of: \recsys_plugin.explain)!

  init(path: String, record: UnsafePointer<recsys_plugin>) throws {
    // Fields are read one by one, never the whole struct: an ABI 1.0 plugin's record ends before
    // `explain`, so copying `record.pointee` whole would read past it.
    let pluginABI = "\(record.pointee.abi_major).\(record.pointee.abi_minor)"
    guard record.pointee.abi_major == RECSYS_PLUGIN_ABI_MAJOR else {
      throw PluginError(code: .failedPrecondition,
        "plugin \(path) was built for plugin ABI \(pluginABI), but this sidecar speaks ABI \(Self.hostABIVersion); "
          + "rebuild the plugin against this sidecar's recsys_plugin.h")
    }
    let size = Int(record.pointee.struct_size)
    guard size >= Self.minimumRecordSize else {
      throw PluginError(code: .failedPrecondition,
        "plugin \(path) has a registration record of \(size) bytes, smaller than ABI "
          + "\(RECSYS_PLUGIN_ABI_MAJOR).0 needs (\(Self.minimumRecordSize)); rebuild the plugin")
    }
    guard let kind = record.pointee.kind.map({ String(cString: $0) }), !kind.isEmpty,
          record.pointee.create != nil, record.pointee.recommend != nil, record.pointee.destroy != nil
    else {
      throw PluginError(code: .failedPrecondition, "plugin \(path) lacks a kind or one of create/recommend/destroy")
    }
    self.path = path
    self.kind = kind
    version = record.pointee.plugin_version.map { String(cString: $0) } ?? "unknown"
    abiVersion = pluginABI
    abiMinor = record.pointee.abi_minor
    needsCandidates = record.pointee.flags & RECSYS_PLUGIN_NEEDS_CANDIDATES != 0
    tensorRequirements = try (0..<record.pointee.tensor_spec_count).map {
      try TensorRequirement(record.pointee.tensor_specs[$0])
    }
    // Optional functions appended after 1.0, each read only where the record is long enough to
    // hold it (an older plugin's record ends before it).
    explain = Self.optionalFunction(record, at: Self.minimumRecordSize, as: ExplainFunction.self)
    self.record = record
    // ABI 1.3: tell a newer plugin which request fields this host fills (set before any create()).
    Self.optionalFunction(record, at: Self.setHostABIOffset, as: SetHostABIFunction.self)?(
      UInt32(RECSYS_PLUGIN_ABI_MAJOR), UInt32(RECSYS_PLUGIN_ABI_MINOR))
  }

  static let setHostABIOffset = MemoryLayout<recsys_plugin>.offset(of: \recsys_plugin.set_host_abi)!

  /// The function pointer at `offset` of the plugin's record, when its `struct_size` covers it.
  private static func optionalFunction<Function>(_ record: UnsafePointer<recsys_plugin>, at offset: Int,
                                                 as type: Function.Type) -> Function? {
    guard Int(record.pointee.struct_size) >= offset + MemoryLayout<Function?>.size else { return nil }
    return UnsafeRawPointer(record).load(fromByteOffset: offset, as: Function?.self)
  }

  typealias SetHostABIFunction = @convention(c) (UInt32, UInt32) -> Void

  typealias ExplainFunction = @convention(c) (
    OpaquePointer?, UnsafePointer<recsys_request>?, UnsafeMutablePointer<recsys_explanation>?,
    UnsafeMutablePointer<CChar>?, Int
  ) -> recsys_status

  /// The plugin's explain(), when its record has one (ABI >= 1.1 and not NULL).
  let explain: ExplainFunction?

  /// True when the kind can explain its answers (see `ModelInstance.explain`).
  public var explains: Bool { explain != nil }

  /// Checks `tensors` against the kind's requirements, then creates an instance.
  /// `owner` keeps the tensor memory alive until the instance is destroyed.
  /// `model` ("mlp@3") names the instance in the errors its answers raise.
  public func createInstance(model: String = "", manifestJSON: String, tensors: [TensorView],
                             owner: AnyObject) throws -> ModelInstance {
    try TensorRequirementCheck.check(tensors, against: tensorRequirements, kind: kind)
    return try ModelInstance(plugin: self, model: model, manifestJSON: manifestJSON, tensors: tensors, owner: owner)
  }
}

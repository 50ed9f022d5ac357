import Checksums
import Foundation
import Logging

/// The plugins of a directory, by the model kind each serves, kept current by
/// `refresh()`: a new file is loaded without restart; a file whose plugin has a
/// higher version than the active one for its kind replaces it for new loads. A
/// loaded library is never unloaded, so a new version must come as a new file name.
/// Not thread-safe: the registry calls it from its one queue.
public final class PluginSet: @unchecked Sendable {
  public struct Entry: Sendable {
    public let plugin: Plugin
    public let sha256: String
    public var active: Bool
  }

  public let directory: String
  public private(set) var entries: [String: Entry] = [:]
  public private(set) var byKind: [String: Plugin] = [:]
  /// Files refused, with why; retried when the file changes.
  public private(set) var refused: [String: String] = [:]
  private var seen: [String: FileStamp] = [:]
  private let logger: Logger

  /// How long a file must sit unchanged before it is loaded: a copy still under way
  /// is never dlopen()ed.
  static let settleSeconds = 1.0

  public init(directory: String, logger: Logger) {
    self.directory = directory
    self.logger = logger
  }

  /// A set made of already-loaded plugins (tests, tools).
  public init(_ plugins: [Plugin], logger: Logger = Logger(label: "plugins")) {
    directory = ""
    self.logger = logger
    for plugin in plugins {
      entries[plugin.path] = Entry(plugin: plugin, sha256: "", active: true)
      byKind[plugin.kind] = plugin
    }
  }

  /// Loads every `*.so` in `directory` now.
  public static func load(directory: String, logger: Logger) -> PluginSet {
    let set = PluginSet(directory: directory, logger: logger)
    _ = set.refresh(waitForSettledFiles: false)
    return set
  }

  public func plugin(forKind kind: String) -> Plugin? { byKind[kind] }

  /// Loads new or changed files; returns the kinds whose active plugin changed.
  @discardableResult
  public func refresh(waitForSettledFiles: Bool = true) -> Set<String> {
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".so") }.sorted()
    } catch {
      if seen.isEmpty { logger.error("cannot read the plugins directory", metadata: ["directory": "\(directory)", "error": "\(error)"]) }
      return []
    }
    var changedKinds = Set<String>()
    for name in names {
      let path = (directory as NSString).appendingPathComponent(name)
      guard let stamp = FileStamp(path), stamp != seen[path] else { continue }
      if waitForSettledFiles && Date().timeIntervalSince1970 - stamp.modifiedSeconds < Self.settleSeconds { continue }
      seen[path] = stamp
      if entries[path] != nil {
        refuse(path, "the file changed after it was loaded; a loaded library cannot be replaced in place: "
          + "install the new version under a new file name (the sidecar keeps running the old code)")
        continue
      }
      do {
        let plugin = try Plugin.load(path: path)
        let digest = try SHA256.hex(ofFileAt: path)
        refused[path] = nil
        let current = byKind[plugin.kind]
        let replaces = current.map { Self.isNewer(plugin.version, than: $0.version) } ?? true
        entries[path] = Entry(plugin: plugin, sha256: digest, active: replaces)
        if replaces {
          if let current { entries[current.path]?.active = false }
          byKind[plugin.kind] = plugin
          changedKinds.insert(plugin.kind)
        }
        logger.info(replaces ? "plugin loaded" : "plugin loaded but not used: an equal or newer version of its kind is active",
                    metadata: ["path": "\(path)", "kind": "\(plugin.kind)", "version": "\(plugin.version)",
                               "abi": "\(plugin.abiVersion)", "sha256": "\(digest)"])
      } catch {
        refuse(path, "\(error)")
      }
    }
    return changedKinds
  }

  private func refuse(_ path: String, _ reason: String) {
    refused[path] = reason
    logger.error("plugin refused", metadata: ["path": "\(path)", "reason": "\(reason)"])
  }

  /// Dotted numeric comparison ("1.10.0" > "1.9.2"); non-numeric parts compare as text.
  static func isNewer(_ candidate: String, than current: String) -> Bool {
    let a = candidate.split(separator: "."), b = current.split(separator: ".")
    for index in 0..<max(a.count, b.count) {
      let x = index < a.count ? a[index] : "0", y = index < b.count ? b[index] : "0"
      if let xi = Int(x), let yi = Int(y) {
        if xi != yi { return xi > yi }
      } else if x != y {
        return x > y
      }
    }
    return false
  }
}

/// Identity and age of a file, to notice new and rewritten plugins.
struct FileStamp: Equatable {
  var inode: UInt64
  var size: Int64
  var modifiedNanoseconds: Int64

  var modifiedSeconds: Double { Double(modifiedNanoseconds) / 1e9 }

  init?(_ path: String) {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    inode = UInt64(status.st_ino)
    size = Int64(status.st_size)
    modifiedNanoseconds = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
  }
}

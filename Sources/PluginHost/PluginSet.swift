import Foundation
import Logging

/// The plugins loaded from a directory, by the model kind each serves. A file that
/// fails a check is refused with its reason and does not stop the others.
public final class PluginSet: @unchecked Sendable {
  public private(set) var byKind: [String: Plugin] = [:]
  /// Files refused, with why.
  public private(set) var refused: [(path: String, reason: String)] = []

  public init(_ plugins: [Plugin] = []) {
    for plugin in plugins { byKind[plugin.kind] = plugin }
  }

  public func plugin(forKind kind: String) -> Plugin? { byKind[kind] }

  /// Loads every `*.so` in `directory`, in name order.
  public static func load(directory: String, logger: Logger) -> PluginSet {
    let set = PluginSet()
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".so") }.sorted()
    } catch {
      logger.error("cannot read the plugins directory", metadata: ["directory": "\(directory)", "error": "\(error)"])
      return set
    }
    for name in names {
      let path = (directory as NSString).appendingPathComponent(name)
      do {
        let plugin = try Plugin.load(path: path)
        if let earlier = set.byKind[plugin.kind] {
          logger.warning("two plugins serve one kind; keeping the first",
                         metadata: ["kind": "\(plugin.kind)", "kept": "\(earlier.path)", "ignored": "\(path)"])
          continue
        }
        set.byKind[plugin.kind] = plugin
        logger.info("plugin loaded", metadata: [
          "path": "\(path)", "kind": "\(plugin.kind)", "version": "\(plugin.version)", "abi": "\(plugin.abiVersion)",
        ])
      } catch {
        set.refused.append((path, "\(error)"))
        logger.error("plugin refused", metadata: ["path": "\(path)", "reason": "\(error)"])
      }
    }
    return set
  }
}

import Foundation
import Logging
import PluginHost

/// `plugin-directory`: the bytes describe a small tree of folders, files and symlinks with
/// arbitrary modes (symlinks may point at any entry, or out of the tree). Every `*.so` in the
/// plugins folder goes through the safety check, and the whole folder through a plugin refresh.
/// Invariant: a path the check accepts resolves to a file that neither it nor any folder above
/// it lets group or others replace (a root-owned sticky folder excepted).
enum PluginDirectoryTarget {
  static let target = FuzzTarget(
    name: "plugin-directory",
    summary: "a described tree of folders, files, symlinks and modes -> plugin file checks and refresh"
  ) { bytes in
    let root = FuzzEnvironment.makeTemporaryDirectory("recsys-fuzz-plugins")
    defer { try? FileManager.default.removeItem(atPath: root) }
    let plugins = build(Array(bytes), under: root)
    for name in (try? FileManager.default.contentsOfDirectory(atPath: plugins)) ?? [] where name.hasSuffix(".so") {
      let path = "\(plugins)/\(name)"
      guard let resolved = try? FileSafety.check(pluginAt: path) else { continue }
      precondition(isSafe(resolved), "accepted \(path) -> \(resolved), which others could replace")
    }
    // The files are not libraries, so nothing loads; what matters is that nothing crashes.
    _ = PluginSet.load(directory: plugins, logger: logger)
  }

  private static let logger: Logger = {
    var logger = Logger(label: "recsys-fuzz")
    logger.logLevel = .critical
    return logger
  }()

  /// Up to 8 entries of 4 bytes: type (folder, file, symlink), parent (the root or an earlier
  /// folder), mode (12 bits); a symlink's target is another entry or a path outside. The
  /// plugins folder is the root or the first folder. Returns the plugins folder.
  private static func build(_ bytes: [UInt8], under root: String) -> String {
    var paths = [root]
    var folders = [root]
    var index = 0
    while index + 4 <= bytes.count && paths.count <= 8 {
      let (kind, parent, modeLow, modeHigh) = (bytes[index], bytes[index + 1], bytes[index + 2], bytes[index + 3])
      index += 4
      let folder = folders[Int(parent) % folders.count]
      let mode = mode_t((Int(modeHigh) << 8 | Int(modeLow)) & 0o7777)
      switch kind % 3 {
      case 0:
        let path = "\(folder)/d\(paths.count)"
        guard mkdir(path, 0o755) == 0 else { continue }
        chmod(path, mode | 0o700)  // the owner (root here) keeps access, as a real operator would
        paths.append(path)
        folders.append(path)
      case 1:
        let path = "\(folder)/f\(paths.count).so"
        guard FileManager.default.createFile(atPath: path, contents: Data("not a library".utf8)) else { continue }
        chmod(path, mode)
        paths.append(path)
      default:
        let outside = ["/", "/tmp", "/etc/hostname", "/nonexistent", "."]
        let choice = Int(parent) % (paths.count + outside.count)
        let target = choice < paths.count ? paths[choice] : outside[choice - paths.count]
        let path = "\(folder)/l\(paths.count).so"
        guard symlink(target, path) == 0 else { continue }
        paths.append(path)
      }
    }
    return folders.count > 1 ? folders[1] : root
  }

  /// The invariant, checked independently of FileSafety's own code path.
  private static func isSafe(_ resolved: String) -> Bool {
    var path = resolved
    while true {
      var status = stat()
      guard stat(path, &status) == 0 else { return false }
      let stickyRoot = status.st_mode & S_ISVTX != 0 && status.st_uid == 0 && path != resolved
      if status.st_mode & (S_IWGRP | S_IWOTH) != 0 && !stickyRoot { return false }
      if path == "/" { return true }
      path = (path as NSString).deletingLastPathComponent
      if path.isEmpty { return true }
    }
  }
}

import Foundation
import RecSysStatus

/// Refuses plugin files that someone other than their owner could have replaced:
/// loading a library runs its code with the sidecar's rights.
///
/// What is checked is the file that would be loaded, not the name it is listed under: a symlink
/// in a safe plugins directory may point anywhere, so the link is resolved and the target file
/// and every directory above it (up to /) must be safe too (whoever can rename a folder above
/// the file can swap the file). The resolved path is what gets
/// dlopen()ed, so swapping the link after the check changes nothing.
public enum FileSafety {
  /// Checks `path` and returns the resolved path to load.
  public static func check(pluginAt path: String) throws -> String {
    try check(path, what: "plugin file \(path)")
    let directory = (path as NSString).deletingLastPathComponent
    try check(directory, what: "plugin directory \(directory)")
    guard let resolved = realpath(path, nil) else {
      throw PluginError(code: .notFound, "plugin file \(path) cannot be resolved: \(String(cString: strerror(errno)))")
    }
    defer { free(resolved) }
    let target = String(cString: resolved)
    if target != path { try check(target, what: "plugin file \(path) resolves to \(target), which") }
    var ancestor = (target as NSString).deletingLastPathComponent
    while true {
      try check(ancestor, what: "plugin file \(path) resolves into \(ancestor), which", stickyIsSafe: true)
      if ancestor == "/" || ancestor.isEmpty { break }
      ancestor = (ancestor as NSString).deletingLastPathComponent
    }
    return target
  }

  /// `stickyIsSafe`: a sticky directory (like /tmp) lets others add entries but not replace
  /// someone else's, so it may be world-writable when root owns it.
  private static func check(_ path: String, what: String, stickyIsSafe: Bool = false) throws {
    var status = stat()
    guard stat(path, &status) == 0 else {
      throw PluginError(code: .notFound, "\(what) cannot be read: \(String(cString: strerror(errno)))")
    }
    let sticky = stickyIsSafe && status.st_mode & S_ISVTX != 0 && status.st_uid == 0
    if status.st_mode & (S_IWGRP | S_IWOTH) != 0 && !sticky {
      throw PluginError(code: .permissionDenied,
        "\(what) is writable by group or others (mode \(String(status.st_mode & 0o777, radix: 8))); "
          + "refusing to load code others could replace: chmod go-w \(path)")
    }
    if status.st_uid != 0 && status.st_uid != geteuid() {
      throw PluginError(code: .permissionDenied,
        "\(what) is owned by uid \(status.st_uid), neither root nor the sidecar's user (\(geteuid())); "
          + "chown it to one of them")
    }
  }
}

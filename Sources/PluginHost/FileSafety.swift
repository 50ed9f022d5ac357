import Foundation

/// Refuses plugin files that someone other than their owner could have replaced:
/// loading a library runs its code with the sidecar's rights.
enum FileSafety {
  static func check(pluginAt path: String) throws {
    try check(path, what: "plugin file")
    try check((path as NSString).deletingLastPathComponent, what: "plugin directory")
  }

  private static func check(_ path: String, what: String) throws {
    var status = stat()
    guard stat(path, &status) == 0 else {
      throw PluginError(code: 5, "\(what) \(path) cannot be read: \(String(cString: strerror(errno)))")
    }
    if status.st_mode & (S_IWGRP | S_IWOTH) != 0 {
      throw PluginError(code: 7,
        "\(what) \(path) is writable by group or others (mode \(String(status.st_mode & 0o777, radix: 8))); "
          + "refusing to load code others could replace: chmod go-w \(path)")
    }
    if status.st_uid != 0 && status.st_uid != geteuid() {
      throw PluginError(code: 7,
        "\(what) \(path) is owned by uid \(status.st_uid), neither root nor the sidecar's user (\(geteuid())); "
          + "chown it to one of them")
    }
  }
}

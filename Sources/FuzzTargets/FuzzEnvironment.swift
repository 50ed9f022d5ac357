import Foundation

/// Where fuzz targets find the repository's fixtures and the built plugins.
enum FuzzEnvironment {
  /// The checkout this file was compiled in (targets read committed fixtures from it).
  static let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

  /// `RECSYS_PLUGINS_DIR`, else the plugins folder `make build` fills.
  static var pluginsDirectory: String {
    ProcessInfo.processInfo.environment["RECSYS_PLUGINS_DIR"] ?? repositoryRoot + "/.build/plugins"
  }

  /// A fresh directory under the system's temporary folder.
  static func makeTemporaryDirectory(_ prefix: String) -> String {
    var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
    guard let created = mkdtemp(&template) else { fatalError("mkdtemp failed: \(String(cString: strerror(errno)))") }
    return String(cString: created)
  }
}

import Foundation

#if canImport(Glibc)
  import Glibc
#else
  import Darwin
#endif

/// The JSON-lines logs the sidecar writes (exposure, feedback), as offline tools read them.
public enum LogFiles {
  public struct Failure: Error, CustomStringConvertible {
    public let description: String
  }

  /// A glob's matches, sorted; rotated exposure files (path.N) come oldest first by the caller's pattern.
  public static func files(_ pattern: String) throws -> [String] {
    var matches = glob_t()
    defer { globfree(&matches) }
    guard glob(pattern, 0, nil, &matches) == 0 else {
      throw Failure(description: "no file matches \(pattern)")
    }
    return (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }.sorted()
  }

  /// Every line of `path` that is a JSON object (others are skipped: a line cut by a crash).
  public static func lines(_ path: String) throws -> [[String: Any]] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw Failure(description: "cannot read \(path)")
    }
    return objects(data)
  }

  public static func objects(_ data: Data) -> [[String: Any]] {
    data.split(separator: UInt8(ascii: "\n")).compactMap { line in
      (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
    }
  }
}

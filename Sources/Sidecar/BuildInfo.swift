/// What this binary is, for `recsys_build_info` and `--version`.
public enum BuildInfo {
  /// The sidecar's version, bumped by hand at a release.
  public static let version = "0.1.0"
  /// The git commit it was built from. SwiftPM has no build-time step that could stamp it
  /// without a plugin, so it is "unknown" unless a release build edits this line.
  public static let commit = "unknown"
  /// The Swift compiler that built it (major.minor).
  public static let swiftVersion: String = {
    #if compiler(>=7.0)
      return ">=7.0"
    #elseif compiler(>=6.3)
      return "6.3"
    #elseif compiler(>=6.2)
      return "6.2"
    #elseif compiler(>=6.1)
      return "6.1"
    #else
      return "6.0"
    #endif
  }()
}

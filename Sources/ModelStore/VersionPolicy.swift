/// How a model picks the version that serves, and which versions labels name.
public struct VersionPolicy: Equatable, Sendable {
  /// nil: the highest version that loads (`latest`); otherwise exactly this version.
  public var pinned: Int?
  /// e.g. stable: 3, canary: 4. A label may only name a version that loaded.
  public var labels: [String: Int]

  public init(pinned: Int? = nil, labels: [String: Int] = [:]) {
    self.pinned = pinned
    self.labels = labels
  }

  public static let latest = VersionPolicy()
}

/// A change an operator asks for through the admin API.
public enum PolicyChange: Sendable {
  case pin(Int)
  case latest
  /// Version 0 removes the label.
  case label(String, Int)
}

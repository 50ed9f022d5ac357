/// Per-request bounds that keep one call from taking the server's memory or time.
public struct RequestLimits: Equatable, Sendable {
  public var maxTopK = 1_000
  public var maxCandidates = 10_000
  public var maxHistory = 1_000
  public var maxContext = 4_096
  public var maxCandidateFeatures = 1_000_000
  /// Largest top_k an explain=true request may ask for: explaining costs a batched pass over the
  /// history per request and a score per (returned item, history event).
  public var maxExplainTopK = 50

  /// Longest request_id and user_id: ids are logged, kept for Feedback and hashed, so they must
  /// stay small (a UUID is 36 bytes).
  public static let maxIdentifierBytes = 256
  /// Longest model selector or forced_arm: two names of at most 128 bytes and a separator.
  public static let maxSelectorBytes = 257
  /// Longest surface name.
  public static let maxSurfaceBytes = 128

  public init() {}
}

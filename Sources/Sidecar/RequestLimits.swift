/// Per-request bounds that keep one call from taking the server's memory or time.
public struct RequestLimits: Equatable, Sendable {
  public var maxTopK = 1_000
  public var maxCandidates = 10_000
  public var maxHistory = 1_000
  public var maxContext = 4_096
  public var maxCandidateFeatures = 1_000_000

  public init() {}
}

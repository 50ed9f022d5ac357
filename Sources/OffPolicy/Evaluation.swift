/// A candidate's estimated item CTR from one logging policy's slates, beside that policy's own
/// observed CTR on the same requests, each with a bootstrap 95% interval.
public struct Evaluation: Sendable {
  public struct Estimate: Sendable, Equatable {
    public let value: Double
    public let low: Double
    public let high: Double
  }

  public let requests: Int
  /// (request, position) rounds.
  public let rounds: Int
  /// Rounds where the candidate shows the item that was shown (non-zero weight).
  public let matched: Int
  /// Rounds where the candidate shows an item the logging policy could not show there.
  public let missingSupport: Int
  public let effectiveSampleSize: Double
  public let observed: Estimate?
  /// nil when support is missing (the estimate would be biased) or nothing was logged.
  public let inverseProbabilityWeighting: Estimate?
  public let selfNormalized: Estimate?
  public let doublyRobust: Estimate?
  /// The sums behind the point estimates (defined also where support is missing).
  public let totals: SlateSums

  public var hasMissingSupport: Bool { missingSupport > 0 }

  public init(slates: [LoggedSlate], bootstrap: Bootstrap = Bootstrap()) {
    let model = RewardModel(fitting: slates)
    let sums = slates.map { SlateSums($0, model: model) }
    var total = SlateSums()
    for slate in sums { total += slate }
    totals = total
    requests = slates.count
    rounds = Int(total.rounds)
    matched = total.matched
    missingSupport = total.missingSupport
    effectiveSampleSize = total.effectiveSampleSize
    let statistics: [(SlateSums) -> Double?] = [
      \.observed, \.inverseProbabilityWeighting, \.selfNormalized, \.doublyRobustEstimate,
    ]
    let supported = total.missingSupport == 0
    let intervals = bootstrap.intervals(sums, statistics: statistics)
    func estimate(_ value: Double?, _ interval: (low: Double, high: Double)?) -> Estimate? {
      guard let value, let interval else { return nil }
      return Estimate(value: value, low: interval.low, high: interval.high)
    }
    observed = estimate(total.observed, intervals[0])
    inverseProbabilityWeighting = supported ? estimate(total.inverseProbabilityWeighting, intervals[1]) : nil
    selfNormalized = supported ? estimate(total.selfNormalized, intervals[2]) : nil
    doublyRobust = supported ? estimate(total.doublyRobustEstimate, intervals[3]) : nil
  }
}

/// Everything the admin report shows for one experiment.
public struct ExperimentReport: Sendable {
  public let key: String
  public let salt: String
  /// "fixed" or "thompson".
  public let mode: String
  /// e.g. "surface in [home]; with candidates".
  public let match: String
  public let holdoutPercent: Double
  public let minSharePercent: Double
  /// The first arm's name: the others are tested against it.
  public let control: String
  /// Control first, then the other arms, then the holdout (when it is above 0 or has counts).
  public let arms: [ArmReport]
  public let shadow: ShadowReport
}

/// One arm's (or the holdout's) results. Rates are per impression (one per served response):
/// CTR = responses with a click / impressions, CVR = responses with a purchase / impressions.
/// Intervals are Wilson 95%; z and p compare with the control (z > 0: this row is higher), and are
/// 0 and 1 for the control itself.
public struct ArmReport: Sendable {
  public let name: String
  /// The arm's selector; "" for the holdout row, which the caller's default model serves.
  public let model: String
  public let weightPercent: Double
  public let holdout: Bool
  public let impressions: Int
  public let clicks: Int
  public let addToCarts: Int
  public let purchases: Int
  public let revenue: Double
  public let ctr: Double
  public let ctrLow: Double
  public let ctrHigh: Double
  public let cvr: Double
  public let cvrLow: Double
  public let cvrHigh: Double
  public let ctrZ: Double
  public let ctrPValue: Double
  public let cvrZ: Double
  public let cvrPValue: Double
  /// This row's share of the experiment's impressions so far.
  public let trafficShare: Double
  /// The chance a matched request is served by this row now: fixed, weight x (1 - holdout);
  /// thompson, the policy's current arm probability x (1 - holdout); holdout, the holdout share.
  public let servingProbability: Double
  public let revenuePerImpression: Double
}

/// How the shadow model agreed with what was served.
public struct ShadowReport: Sendable {
  /// The shadow's selector; "" when the experiment has none.
  public let model: String
  public let compared: Int
  /// Scorings skipped (e.g. a full queue) and scorings that failed.
  public let dropped: Int
  public let failed: Int
  public let meanOverlapAtK: Double
  /// Mean Kendall tau over the comparisons that shared at least two items (`rankCorrelationCount`).
  public let meanRankCorrelation: Double
  public let rankCorrelationCount: Int
}

import ModelStore

/// One request's routing decision.
public struct Assignment: Sendable, Equatable {
  public let experimentKey: String
  /// `Arm.holdoutName` ("holdout") for held-out users.
  public let armName: String
  /// nil for holdout.
  public let armIndex: Int?
  /// The user's bucket in the experiment (`Bucketing.bucket`), also for holdout users.
  public let bucket: Int
  /// The probability the served arm had of being chosen for this request: 1 for fixed mode,
  /// holdout and forced arms; in thompson mode min_share + (1 - arms x min_share) x P(the arm is
  /// the posterior's argmax), as fractions. Log it for off-policy evaluation.
  public let probability: Double
  /// Chosen by the request's forced_arm; such exposures count no impressions.
  public let forced: Bool
  /// nil for holdout: the caller serves its default model.
  public let model: ModelSelector?
  /// The experiment's shadow model to score off the request path (nil when forced).
  public let shadow: ModelSelector?

  /// Where `ExperimentLedger.recordExposure` counts this exposure; nil for forced arms.
  let slot: TallySlot?

  /// Equal when they route the same way; which ledger slot counts them does not matter.
  public static func == (lhs: Assignment, rhs: Assignment) -> Bool {
    lhs.experimentKey == rhs.experimentKey && lhs.armName == rhs.armName && lhs.armIndex == rhs.armIndex
      && lhs.bucket == rhs.bucket && lhs.probability == rhs.probability && lhs.forced == rhs.forced
      && lhs.model == rhs.model && lhs.shadow == rhs.shadow
  }
}

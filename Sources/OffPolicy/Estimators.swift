/// Point estimates of the candidate's item CTR (clicks per shown position) from logged slates, as
/// Open Bandit Pipeline computes them with `position` (each (request, position) one round, the mean
/// taken over all rounds; no weight clipping):
///
///     IPS   = sum(w r) / rounds
///     SNIPS = sum(w r) / sum(w)
///     DR    = sum(q(candidate item, k) + w (r - q(shown item, k))) / rounds
///
/// with w the round's importance weight (`LoggedSlate.weight`) and q the `RewardModel`.
/// The sums are kept per slate so the bootstrap can resample requests (whose positions share a user).
public struct SlateSums: Sendable {
  public var rounds = 0.0
  public var rewards = 0.0
  public var weights = 0.0
  public var squaredWeights = 0.0
  public var weightedRewards = 0.0
  public var doublyRobust = 0.0
  public var matched = 0
  public var missingSupport = 0

  public init() {}

  public init(_ slate: LoggedSlate, model: RewardModel) {
    for position in 0..<slate.positions {
      let weight = slate.weight(at: position)
      let reward = slate.reward(at: position)
      rounds += 1
      rewards += reward
      weights += weight
      squaredWeights += weight * weight
      weightedRewards += weight * reward
      doublyRobust += model.click(item: slate.candidate[position], position: position)
        + weight * (reward - model.click(item: slate.shown[position], position: position))
      if weight > 0 { matched += 1 }
      if !(slate.candidatePropensities[position] > 0) { missingSupport += 1 }
    }
  }

  public static func += (total: inout SlateSums, slate: SlateSums) {
    total.rounds += slate.rounds
    total.rewards += slate.rewards
    total.weights += slate.weights
    total.squaredWeights += slate.squaredWeights
    total.weightedRewards += slate.weightedRewards
    total.doublyRobust += slate.doublyRobust
    total.matched += slate.matched
    total.missingSupport += slate.missingSupport
  }

  public var observed: Double? { rounds > 0 ? rewards / rounds : nil }
  public var inverseProbabilityWeighting: Double? { rounds > 0 ? weightedRewards / rounds : nil }
  public var selfNormalized: Double? { weights > 0 ? weightedRewards / weights : nil }
  public var doublyRobustEstimate: Double? { rounds > 0 ? doublyRobust / rounds : nil }
  /// Kish's effective sample size of the importance weights, (sum w)^2 / sum w^2.
  public var effectiveSampleSize: Double { squaredWeights > 0 ? weights * weights / squaredWeights : 0 }
}

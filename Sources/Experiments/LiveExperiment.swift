import ModelStore

/// One experiment ready to serve: its hash prefixes, arm ranges and ledger slots computed once per
/// config load, so assigning a request hashes only the user id and searches a few bounds.
final class LiveExperiment: Sendable {
  let experiment: Experiment
  private let armPrefix: FNV1a64
  private let holdoutPrefix: FNV1a64
  /// Exclusive upper bucket of each arm; the last is `Bucketing.buckets`.
  private let armUpperBounds: [Int]
  private let holdoutBucketCount: Int
  let armSlots: [TallySlot]
  let holdoutSlot: TallySlot
  let thompson: ThompsonPolicy?

  /// `experiment` must have at least one arm.
  init(_ experiment: Experiment, ledger: ExperimentLedger, thompsonRefreshInterval: Duration) {
    self.experiment = experiment
    armPrefix = Bucketing.prefix(key: experiment.key, salt: experiment.salt)
    holdoutPrefix = Bucketing.holdoutPrefix(key: experiment.key, salt: experiment.salt)
    armUpperBounds = experiment.armBucketRanges.map(\.upperBound)
    holdoutBucketCount = experiment.holdoutBucketCount
    let slots = ledger.slots(
      key: experiment.key, salt: experiment.salt, armNames: experiment.arms.map(\.name) + [Arm.holdoutName],
      feedbackTTLSeconds: experiment.feedbackTTLSeconds)
    armSlots = Array(slots.dropLast())
    holdoutSlot = slots[slots.count - 1]
    guard experiment.mode == .thompson else {
      thompson = nil
      return
    }
    let armSlots = armSlots
    thompson = ThompsonPolicy(
      experimentKey: experiment.key, armCount: experiment.arms.count, minSharePercent: experiment.minSharePercent,
      refreshInterval: thompsonRefreshInterval, readCounts: { ledger.counters(armSlots).arms })
  }

  /// Request path. The caller has checked the match and that the user id is not empty.
  func assign(userID: String, seed: UInt64) -> Assignment {
    let bucket = Bucketing.bucket(afterPrefix: armPrefix, userID: userID)
    if holdoutBucketCount > 0 && Bucketing.bucket(afterPrefix: holdoutPrefix, userID: userID) < holdoutBucketCount {
      return Assignment(
        experimentKey: experiment.key, armName: Arm.holdoutName, armIndex: nil, bucket: bucket, probability: 1,
        forced: false, model: nil, shadow: experiment.shadow, slot: holdoutSlot)
    }
    let arm: Int
    let probability: Double
    if let thompson {
      (arm, probability) = thompson.choose(seed: seed)
    } else {
      var index = 0
      while bucket >= armUpperBounds[index] { index += 1 }
      (arm, probability) = (index, 1)
    }
    return Assignment(
      experimentKey: experiment.key, armName: experiment.arms[arm].name, armIndex: arm, bucket: bucket,
      probability: probability, forced: false, model: experiment.arms[arm].model, shadow: experiment.shadow,
      slot: armSlots[arm])
  }

  /// An arm named by forced_arm, or the holdout for `armIndex` nil: counted nowhere, no shadow.
  func forced(armIndex: Int?, userID: String) -> Assignment {
    Assignment(
      experimentKey: experiment.key, armName: armIndex.map { experiment.arms[$0].name } ?? Arm.holdoutName,
      armIndex: armIndex, bucket: Bucketing.bucket(afterPrefix: armPrefix, userID: userID), probability: 1,
      forced: true, model: armIndex.map { experiment.arms[$0].model }, shadow: nil, slot: nil)
  }
}

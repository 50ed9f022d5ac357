import ModelStore

/// The live experiments: an immutable config plus references into the ledger's live counters.
/// Built on each (re)load; the sidecar swaps the whole object. Thread-safe.
public final class ExperimentSet: @unchecked Sendable {
  public let config: ExperimentsConfig
  let ledger: ExperimentLedger
  /// In config order, experiments without arms left out.
  let live: [LiveExperiment]

  public convenience init(config: ExperimentsConfig, ledger: ExperimentLedger) {
    self.init(config: config, ledger: ledger, thompsonRefreshInterval: .milliseconds(200))
  }

  /// `thompsonRefreshInterval`: how stale the Thompson arms' snapshot of the counts may get.
  public init(config: ExperimentsConfig, ledger: ExperimentLedger, thompsonRefreshInterval: Duration) {
    self.config = config
    self.ledger = ledger
    live = config.experiments.filter { !$0.arms.isEmpty }.map {
      LiveExperiment($0, ledger: ledger, thompsonRefreshInterval: thompsonRefreshInterval)
    }
  }

  /// Request path: the first experiment whose match accepts the request assigns it; nil when none
  /// does or the user id is empty (hashing "" would put all anonymous traffic in one arm).
  /// `seed` is the request's 64-bit seed: thompson draws come from it, mixed with the experiment
  /// key, so replaying a request replays its arm.
  public func assign(_ traits: RequestTraits, seed: UInt64) -> Assignment? {
    guard !traits.userID.isEmpty else { return nil }
    for experiment in live where experiment.experiment.match.accepts(traits) {
      return experiment.assign(userID: traits.userID, seed: seed)
    }
    return nil
  }

  /// A request's forced_arm, "experiment_key/arm" or "experiment_key/holdout": serves that arm
  /// whatever the match and holdout say. Its exposures count nowhere and it gets no shadow.
  public func forced(_ text: String, traits: RequestTraits) throws -> Assignment {
    let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
    if parts.count == 2, let experiment = live.first(where: { $0.experiment.key == parts[0] }) {
      let armName = String(parts[1])
      if armName == Arm.holdoutName { return experiment.forced(armIndex: nil, userID: traits.userID) }
      if let index = experiment.experiment.arms.firstIndex(where: { $0.name == armName }) {
        return experiment.forced(armIndex: index, userID: traits.userID)
      }
    }
    let valid = live.flatMap { experiment in
      (experiment.experiment.arms.map(\.name) + [Arm.holdoutName]).map { "\(experiment.experiment.key)/\($0)" }
    }
    let choices = valid.isEmpty ? "no experiments are running" : "use one of: \(valid.joined(separator: ", "))"
    throw ExperimentsError.invalidForcedArm("forced_arm \"\(text)\" names no experiment arm; \(choices)")
  }
}

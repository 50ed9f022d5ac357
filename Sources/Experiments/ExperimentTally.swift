/// The outcomes counted for one arm (or an experiment's holdout). Slate-level: a response counts
/// one impression and at most one click, add-to-cart and purchase, so clicks <= impressions.
public struct ArmCounters: Sendable, Equatable {
  public var impressions = 0
  public var clicks = 0
  public var addToCarts = 0
  public var purchases = 0
  public var revenue = 0.0

  public init(impressions: Int = 0, clicks: Int = 0, addToCarts: Int = 0, purchases: Int = 0, revenue: Double = 0) {
    self.impressions = impressions
    self.clicks = clicks
    self.addToCarts = addToCarts
    self.purchases = purchases
    self.revenue = revenue
  }
}

/// Sums of the shadow model's agreement with what was served.
struct ShadowCounters: Sendable, Equatable {
  var compared = 0
  var dropped = 0
  var failed = 0
  var overlapSum = 0.0
  var rankCorrelationSum = 0.0
  var rankCorrelationCount = 0
}

/// Everything counted for one run of an experiment, i.e. one key + salt: a new salt re-randomises
/// users, so its results start afresh. Arms are found by name, so an arm keeps its counts across
/// reloads that reorder or reweight arms, and a renamed arm starts at zero.
///
/// Guarded by the lock of the ledger that created it (`ledgerID`); never touched otherwise.
final class ExperimentTally: @unchecked Sendable {
  let key: String
  let salt: String
  let ledgerID: ObjectIdentifier
  private var slotsByName: [String: Int] = [:]
  /// Arm names by slot.
  private(set) var names: [String] = []
  var arms: [ArmCounters] = []
  var shadow = ShadowCounters()
  /// The experiment's feedback_ttl as last loaded (nil: the sidecar's default).
  var feedbackTTLSeconds: Int?

  init(key: String, salt: String, ledgerID: ObjectIdentifier) {
    self.key = key
    self.salt = salt
    self.ledgerID = ledgerID
  }

  /// The counters' index for an arm name, created at zero on first use.
  func slot(named name: String) -> Int {
    if let slot = slotsByName[name] { return slot }
    arms.append(ArmCounters())
    names.append(name)
    slotsByName[name] = arms.count - 1
    return arms.count - 1
  }
}

/// One arm's counters: what an assignment carries so recording its exposure needs no lookup.
struct TallySlot: Sendable {
  let tally: ExperimentTally
  let arm: Int
}

/// Tallies are found by experiment key and salt.
struct TallyKey: Hashable, Sendable {
  let key: String
  let salt: String
}

/// Where an experiment's results live beyond this process's memory, so that they hold across a
/// fleet of replicas and across restarts (README "Fleet"). The ledger keeps its own window and
/// counters either way; a state adds what other processes need:
///
/// - every served response's slate, so Feedback on any replica can join it;
/// - impressions and feedback counted once across the fleet;
/// - the fleet's counts, for the report and for Thompson sampling.
///
/// Without one (`nil`), the ledger alone is the state: in-process, as before.
public protocol ExperimentState: AnyObject, Sendable {
  /// Request path: must never wait (queue it, aggregate it, or drop and count it).
  func served(_ slate: Slate)
  /// Feedback path, may wait: the slate of a response another process served; nil when no
  /// process served it within the feedback TTL. Throws `ExperimentStateUnavailable`.
  func slate(requestID: String) throws -> Slate?
  /// Feedback path, may wait: counts one event unless the fleet saw it before. Returns true when
  /// it is new. Throws `ExperimentStateUnavailable` when it cannot be recorded at all.
  func recordFeedback(_ event: FeedbackEvent, on slate: Slate) throws -> Bool
  /// The counters of one experiment run (key + salt) by arm name. `fresh`: read through to the
  /// shared store (admin path; may wait); else the latest cached copy (request path). nil when
  /// the state has never been able to read them.
  func counts(key: String, salt: String, fresh: Bool) -> [String: ArmCounters]?
  /// What the admin API shows about the state.
  var status: ExperimentStateStatus { get }
}

/// What a served response showed: enough to join feedback to it anywhere.
public struct Slate: Sendable, Equatable {
  public var requestID: String
  /// "" when no experiment routed the response.
  public var experiment: String
  public var salt: String
  public var arm: String
  public var itemIDs: [Int64]
  /// forced_arm requests: joined, never counted.
  public var forced: Bool
  /// Whether its impression and feedback count in the experiment's results.
  public var counted: Bool
  /// How long it can receive feedback: the experiment's feedback_ttl; nil for the state's default.
  public var ttlSeconds: Int?

  public init(requestID: String, experiment: String, salt: String, arm: String, itemIDs: [Int64], forced: Bool,
              counted: Bool, ttlSeconds: Int? = nil) {
    self.ttlSeconds = ttlSeconds
    self.requestID = requestID
    self.experiment = experiment
    self.salt = salt
    self.arm = arm
    self.itemIDs = itemIDs
    self.forced = forced
    self.counted = counted
  }
}

/// One feedback call, after validation.
public struct FeedbackEvent: Sendable, Equatable {
  public var requestID: String
  public var itemID: Int64
  public var kind: FeedbackKind
  /// Purchase value (>= 0, finite); ignored for other kinds.
  public var value: Double

  public init(requestID: String, itemID: Int64, kind: FeedbackKind, value: Double) {
    self.requestID = requestID
    self.itemID = itemID
    self.kind = kind
    self.value = value
  }
}

/// The shared store cannot be reached and the event could not be buffered.
public struct ExperimentStateUnavailable: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// The state as the admin API and metrics show it.
public struct ExperimentStateStatus: Sendable, Equatable {
  /// "in-process", "file" or "redis".
  public var kind = "in-process"
  /// The file path or redis://host:port/db ("" in-process).
  public var address = ""
  /// Whether the last attempt to reach the store succeeded.
  public var reachable = true
  public var lastError = ""
  /// Waiting to be written: response slates, per-arm impression deltas (as a count of
  /// impressions), and feedback events accepted while the store was unreachable.
  public var pendingSlates = 0
  public var pendingImpressions = 0
  public var pendingFeedback = 0
  /// Slates and feedback events lost because the buffer was full.
  public var dropped = 0
  /// Successful writes to the store.
  public var flushes = 0

  public init() {}
}

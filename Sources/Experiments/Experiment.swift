import ModelStore

/// One A/B experiment as configured (see `ExperimentsConfig` for the file format).
public struct Experiment: Sendable, Equatable {
  public enum Mode: String, Sendable, Equatable, CaseIterable {
    /// Each user keeps one arm, chosen by their bucket and the arms' weights.
    case fixed
    /// Each request samples the arms' click-through posteriors and serves the best draw.
    case thompson
  }

  public var key: String
  /// Part of the hash: a new salt re-randomises every user and restarts the results.
  public var salt: String
  public var match: Match
  /// Percent of matched users served the caller's default model instead of an arm, in [0, 100).
  public var holdoutPercent: Double
  public var mode: Mode
  /// Thompson mode: the percent of requests each arm is guaranteed (0 in fixed mode).
  public var minSharePercent: Double
  /// The first arm is the control the report compares the others with.
  public var arms: [Arm]
  /// Scored off the request path and compared with what was served; never served.
  public var shadow: ModelSelector?
  /// How long its responses can receive feedback on any replica (a shared experiment state keeps
  /// their slates this long); nil: the sidecar's `feedback_ttl_seconds`.
  public var feedbackTTLSeconds: Int?
  /// Percent of the shadowed requests whose shadow ranking (and the logging policy's greedy ranking)
  /// go to the exposure log for off-policy evaluation; 0 = none.
  public var opeSamplePercent: Double

  public init(
    key: String, salt: String, match: Match = Match(), holdoutPercent: Double = 0, mode: Mode = .fixed,
    minSharePercent: Double = 0, arms: [Arm], shadow: ModelSelector? = nil, feedbackTTLSeconds: Int? = nil,
    opeSamplePercent: Double = 0
  ) {
    self.opeSamplePercent = opeSamplePercent
    self.feedbackTTLSeconds = feedbackTTLSeconds
    self.key = key
    self.salt = salt
    self.match = match
    self.holdoutPercent = holdoutPercent
    self.mode = mode
    self.minSharePercent = minSharePercent
    self.arms = arms
    self.shadow = shadow
  }

  /// e.g. "surface in [home, pdp]; history 1...50; with candidates", or "all requests".
  public var matchDescription: String { match.description }

  /// Fixed mode: the buckets each arm serves, in arm order. Arm i takes
  /// [round(100 * weights before i), round(100 * weights through i)) rounded half away from zero,
  /// the last ending at `Bucketing.buckets`, so the ranges always tile [0, 10000).
  ///
  /// Ramping: moving weight between two neighbouring arms moves only the buckets on their common
  /// border, so users move only between those two (ramping the last arm up from its neighbour
  /// moves users only into it; with two arms every ramp does). No stateless scheme can promise
  /// this for every pair: moving 10% from B to A and then 10% from C to B must end in the same
  /// weights, hence the same partition, as moving 10% from C to A directly, yet A's new users come
  /// from B in the first path and from C in the second. Only remembering past assignments could.
  public var armBucketRanges: [Range<Int>] {
    var ranges: [Range<Int>] = []
    var cumulative = 0.0
    var lower = 0
    for (index, arm) in arms.enumerated() {
      cumulative += arm.weightPercent
      let upper = index == arms.count - 1 ? Bucketing.buckets : max(Bucketing.roundedBucket(cumulative), lower)
      ranges.append(lower..<upper)
      lower = upper
    }
    return ranges
  }

  /// Users whose holdout bucket is below this are held out.
  public var holdoutBucketCount: Int {
    Bucketing.roundedBucket(holdoutPercent)
  }
}

import Foundation

/// Thompson sampling for one experiment: each request draws a click-through rate from every arm's
/// Beta(clicks + 1, impressions - clicks + 1) posterior and serves the arm with the largest draw.
/// With min_share m (a fraction) and K arms, a request first explores with probability K x m,
/// picking an arm uniformly, so every arm keeps at least m of the traffic.
///
/// The posterior a request samples is a snapshot of the counters, refreshed when it is at least
/// `refreshInterval` (200 ms) old and the counts have changed. The logged probability must be
/// P(arm = argmax) under the very posterior sampled, and that has no closed form for K arms, so
/// it is estimated by Monte Carlo (4000 joint draws, seeded, so the same counts give the same
/// numbers) once per snapshot rather than per request. The refresh runs on a background queue;
/// requests meanwhile keep sampling the previous snapshot, so draws and logged probabilities
/// always agree. The request path is one short lock to take the snapshot and O(K) Beta draws.
final class ThompsonPolicy: @unchecked Sendable {
  static let monteCarloDraws = 4000

  let armCount: Int
  /// min_share as a fraction.
  let minShare: Double
  /// K x min_share: the chance a request explores uniformly.
  let exploration: Double
  private let keySeed: UInt64
  private let refreshInterval: Duration
  private let readCounts: @Sendable () -> [ArmCounters]

  private struct Posterior {
    var alphas: [Double]
    var betas: [Double]
    var argmaxProbabilities: [Double]
    var counts: [ArmCounters]
    var takenAt: ContinuousClock.Instant
  }

  private let lock = NSLock()
  private var posterior: Posterior
  private var refreshing = false

  /// `readCounts` returns the arms' counters in arm order; it is called without this policy's lock.
  init(
    experimentKey: String, armCount: Int, minSharePercent: Double, refreshInterval: Duration,
    readCounts: @escaping @Sendable () -> [ArmCounters]
  ) {
    self.armCount = max(armCount, 1)
    let share = minSharePercent.isFinite ? minSharePercent : 0
    exploration = min(max(Double(self.armCount) * share / 100, 0), 1)
    minShare = exploration / Double(self.armCount)
    keySeed = Bucketing.mix64(Bucketing.fnv1a64(experimentKey))
    self.refreshInterval = refreshInterval
    self.readCounts = readCounts
    posterior = Self.posterior(
      counts: readCounts(), armCount: self.armCount, exploration: exploration, seed: keySeed)
  }

  /// The arm for a request and the probability it had. The same seed and snapshot give the same arm.
  func choose(seed: UInt64) -> (arm: Int, probability: Double) {
    let now = ContinuousClock.now
    lock.lock()
    let snapshot = posterior
    let refresh = !refreshing && now - snapshot.takenAt >= refreshInterval
    if refresh { refreshing = true }
    lock.unlock()

    var sampler = BetaSampler(seed: seed ^ keySeed)
    let arm =
      sampler.unit() < exploration
      ? sampler.index(below: armCount)
      : sampler.argmax(alphas: snapshot.alphas, betas: snapshot.betas)
    let probability = minShare + (1 - exploration) * snapshot.argmaxProbabilities[arm]

    if refresh {
      DispatchQueue.global(qos: .utility).async {
        self.refresh()
        self.lock.lock()
        self.refreshing = false
        self.lock.unlock()
      }
    }
    return (arm, probability)
  }

  /// Each arm's chance of serving a request, for the report; refreshes a stale snapshot first
  /// (here, off the request path, even while a background refresh runs).
  func servingProbabilities() -> [Double] {
    lock.lock()
    let stale = ContinuousClock.now - posterior.takenAt >= refreshInterval
    lock.unlock()
    if stale { refresh() }

    lock.lock()
    defer { lock.unlock() }
    return posterior.argmaxProbabilities.map { minShare + (1 - exploration) * $0 }
  }

  /// Rebuilds the snapshot from the current counts, unless they have not changed. Counters only
  /// grow, so of two overlapping refreshes the one that read more counts wins.
  private func refresh() {
    let counts = readCounts()
    lock.lock()
    let unchanged = counts == posterior.counts
    if unchanged { posterior.takenAt = ContinuousClock.now }
    lock.unlock()
    guard !unchanged else { return }
    let fresh = Self.posterior(counts: counts, armCount: armCount, exploration: exploration, seed: keySeed)
    lock.lock()
    if Self.total(fresh.counts) >= Self.total(posterior.counts) { posterior = fresh }
    lock.unlock()
  }

  private static func total(_ counts: [ArmCounters]) -> Int {
    counts.reduce(0) { $0 + $1.impressions + $1.clicks }
  }

  private static func posterior(counts: [ArmCounters], armCount: Int, exploration: Double, seed: UInt64)
    -> Posterior
  {
    let counts = (0..<armCount).map { $0 < counts.count ? counts[$0] : ArmCounters() }
    let alphas = counts.map { Double(max($0.clicks, 0)) + 1 }
    let betas = counts.map { Double(max($0.impressions - $0.clicks, 0)) + 1 }
    let probabilities =
      exploration >= 1 || armCount == 1
      ? [Double](repeating: 1 / Double(armCount), count: armCount)
      : argmaxProbabilities(alphas: alphas, betas: betas, seed: Bucketing.mix64(seed))
    return Posterior(
      alphas: alphas, betas: betas, argmaxProbabilities: probabilities, counts: counts, takenAt: ContinuousClock.now)
  }

  /// P(arm i has the largest draw), by Monte Carlo.
  static func argmaxProbabilities(alphas: [Double], betas: [Double], seed: UInt64) -> [Double] {
    var sampler = BetaSampler(seed: seed)
    var wins = [Int](repeating: 0, count: alphas.count)
    for _ in 0..<monteCarloDraws {
      wins[sampler.argmax(alphas: alphas, betas: betas)] += 1
    }
    return wins.map { Double($0) / Double(monteCarloDraws) }
  }
}

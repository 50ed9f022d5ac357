/// The probability that an epsilon-greedy slate (RecSysKernels' `epsilonGreedySlate`, the `dqn`
/// kind's serving policy) shows the item of greedy rank r at slot s: the per-position propensity
/// the independent item-position estimators need. The exposure log's `propensities` are the
/// policy's probabilities *given the slots before*; this is the marginal over those slots.
///
/// The policy fills slot s from the R = N - s eligible items not chosen yet: with probability
/// 1 - epsilon the best remaining by greedy rank, otherwise one of the R uniformly. Let m be the
/// length of the greedy prefix already chosen (ranks 1...m all chosen, rank m+1 not). Given m and s,
/// the s - m other chosen items are a uniformly random subset of ranks m+2...N (explored picks are
/// uniform; greedy picks only extend the prefix), so m alone is a Markov state:
///
///     P(rank m+1 at slot s | m)        = (1 - epsilon) + epsilon / R
///     P(rank r > m+1 at slot s | m)    = (1 - (s - m) / (N - m - 1)) * epsilon / R
///     P(rank r <= m at slot s | m)     = 0
///
/// and choosing rank m+1 moves the prefix to m + 1 + J, J the run of already chosen ranks after it.
public struct EpsilonGreedyMarginals: Sendable {
  public let eligible: Int
  public let epsilon: Double
  /// prefix[s][m]: P(greedy prefix m when slot s is filled), m in 0...s.
  private let prefix: [[Double]]

  /// `eligible` items (N), slots 0..<slots (at most N are ever filled).
  public init(eligible: Int, epsilon: Double, slots: Int) {
    self.eligible = max(eligible, 0)
    self.epsilon = min(max(epsilon, 0), 1)
    let count = min(max(slots, 0), self.eligible)
    var table: [[Double]] = []
    table.reserveCapacity(count)
    var current = [1.0]  // slot 0: nothing chosen
    for slot in 0..<count {
      table.append(current)
      guard slot + 1 < count else { break }
      var next = [Double](repeating: 0, count: slot + 2)
      let remaining = Double(self.eligible - slot)
      let greedy = (1 - self.epsilon) + self.epsilon / remaining
      for (m, probability) in current.enumerated() where probability > 0 {
        next[m] += probability * (1 - greedy)  // explored past rank m+1: the prefix stays
        // Rank m+1 chosen: the run J of chosen ranks m+2, m+3, ... joins the prefix.
        // With j = slot - m chosen among M = N - m - 1, P(J >= t) = prod_{i<t} (j - i) / (M - i).
        let chosen = slot - m
        let pool = self.eligible - m - 1
        var atLeast = 1.0
        for run in 0...chosen {
          let more = run < chosen ? atLeast * Double(chosen - run) / Double(pool - run) : 0
          next[m + 1 + run] += probability * greedy * (atLeast - more)
          atLeast = more
        }
      }
      current = next
    }
    prefix = table
  }

  /// P(the item of greedy rank `rank` (0 = best) is shown at `slot`); 0 outside the slate.
  public func probability(rank: Int, slot: Int) -> Double {
    guard slot >= 0, slot < prefix.count, rank >= 0, rank < eligible else { return 0 }
    let remaining = Double(eligible - slot)
    let r = rank + 1
    var total = 0.0
    for (m, weight) in prefix[slot].enumerated() where weight > 0 {
      if r == m + 1 {
        total += weight * ((1 - epsilon) + epsilon / remaining)
      } else if r > m + 1 {
        let unchosen = 1 - Double(slot - m) / Double(eligible - m - 1)
        total += weight * unchosen * epsilon / remaining
      }
    }
    return total
  }

  /// Epsilon from a logged slate's first slot: its conditional propensity `first` and whether the
  /// item there was the greedy best. nil when N < 2 (every slate is the same).
  public static func epsilon(firstPropensity first: Double, firstWasGreedy: Bool, eligible: Int) -> Double? {
    guard eligible >= 2, first.isFinite else { return nil }
    let n = Double(eligible)
    // greedy: first = 1 - eps + eps / N; explored: first = eps / N.
    let value = firstWasGreedy ? (1 - first) * n / (n - 1) : first * n
    return min(max(value, 0), 1)
  }
}

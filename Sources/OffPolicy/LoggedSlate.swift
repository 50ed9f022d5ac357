/// One logged request as the item-position estimators see it: what the logging policy showed, what
/// was clicked, and what the candidate would have shown on the same request, with the logging
/// policy's marginal probability of each of those items at that position.
///
/// Position k is one round: action = the item shown at k, reward = clicked, propensity = the
/// logging policy's probability of showing that item at k (the independent item-position model:
/// a click at k depends only on the item at k). Only positions both lists fill are rounds.
public struct LoggedSlate: Sendable, Equatable {
  public var requestID: String
  public var shown: [Int64]
  public var clicked: [Bool]  // per shown position
  /// P(the logging policy shows shown[k] at k | request).
  public var shownPropensities: [Double]
  /// The candidate's ranking on the same request (deterministic policy).
  public var candidate: [Int64]
  /// P(the logging policy shows candidate[k] at k | request); 0 = missing support there.
  public var candidatePropensities: [Double]

  public init(requestID: String, shown: [Int64], clicked: [Bool], shownPropensities: [Double], candidate: [Int64],
              candidatePropensities: [Double]) {
    self.requestID = requestID
    self.shown = shown
    self.clicked = clicked
    self.shownPropensities = shownPropensities
    self.candidate = candidate
    self.candidatePropensities = candidatePropensities
  }

  /// Positions that are rounds: both lists fill them.
  public var positions: Int {
    min(shown.count, clicked.count, shownPropensities.count, candidate.count, candidatePropensities.count)
  }

  /// The importance weight of round k: pi_candidate(shown[k] at k) / pi_logging(shown[k] at k).
  public func weight(at position: Int) -> Double {
    candidate[position] == shown[position] ? 1 / shownPropensities[position] : 0
  }

  public func reward(at position: Int) -> Double { clicked[position] ? 1 : 0 }
}

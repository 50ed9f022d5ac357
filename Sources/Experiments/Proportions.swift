import Foundation

/// Confidence intervals and tests for rates such as click-through.
public enum Proportions {
  /// The 97.5th percentile of the standard normal.
  static let z95 = 1.959963984540054

  /// Wilson score interval at 95%: unlike p ± 1.96 SE it stays inside [0, 1] and keeps its
  /// coverage at small counts and rates near 0, which click rates are. (0, 1) without trials.
  public static func wilson95(successes: Int, trials: Int) -> (low: Double, high: Double) {
    guard trials > 0 else { return (0, 1) }
    let n = Double(trials)
    let p = Double(min(max(successes, 0), trials)) / n
    let z2 = z95 * z95
    let denominator = 1 + z2 / n
    let center = (p + z2 / (2 * n)) / denominator
    let halfWidth = z95 * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denominator
    return (max(0, center - halfWidth), min(1, center + halfWidth))
  }

  /// Two-sided two-proportion z-test with the pooled standard error; z > 0 when A's rate is the
  /// higher. (0, 1) when either side has no trials or the pooled rate is 0 or 1.
  public static func twoProportionZTest(successesA: Int, trialsA: Int, successesB: Int, trialsB: Int)
    -> (z: Double, pValue: Double)
  {
    guard trialsA > 0 && trialsB > 0 else { return (0, 1) }
    let nA = Double(trialsA)
    let nB = Double(trialsB)
    let pooled = Double(successesA + successesB) / (nA + nB)
    let standardError = (pooled * (1 - pooled) * (1 / nA + 1 / nB)).squareRoot()
    guard standardError > 0 && standardError.isFinite else { return (0, 1) }
    let z = (Double(successesA) / nA - Double(successesB) / nB) / standardError
    return (z, erfc(abs(z) / 2.0.squareRoot()))
  }
}

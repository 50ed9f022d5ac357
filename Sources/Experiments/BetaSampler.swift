import Foundation
import SeededRandom

/// Beta draws from a seeded SplitMix64, the same on every machine: Beta(a, b) = X / (X + Y) with
/// X ~ Gamma(a), Y ~ Gamma(b) by Marsaglia & Tsang (2000), whose normal draws come from
/// Box–Muller. Shapes are >= 1 here (counts + 1), the case Marsaglia–Tsang handles directly.
public struct BetaSampler {
  private var random: SplitMix64
  private var spareNormal: Double?

  public init(seed: UInt64) {
    random = SplitMix64(seed: seed)
  }

  /// Uniform in [0, 1).
  public mutating func unit() -> Double {
    random.nextUnit()
  }

  /// Uniform in 0..<bound.
  public mutating func index(below bound: Int) -> Int {
    random.next(below: bound)
  }

  public mutating func beta(_ alpha: Double, _ beta: Double) -> Double {
    let x = gamma(shape: alpha)
    let y = gamma(shape: beta)
    return x / (x + y)
  }

  /// Gamma(shape, 1) for shape >= 1.
  public mutating func gamma(shape: Double) -> Double {
    let d = shape - 1.0 / 3.0
    let c = 1.0 / (9.0 * d).squareRoot()
    while true {
      var x: Double
      var v: Double
      repeat {
        x = normal()
        v = 1.0 + c * x
      } while v <= 0
      v = v * v * v
      let u = 1.0 - random.nextUnit()  // (0, 1]: log(u) stays finite
      let xx = x * x
      if u < 1.0 - 0.0331 * xx * xx { return d * v }
      if log(u) < 0.5 * xx + d * (1.0 - v + log(v)) { return d * v }
    }
  }

  /// Standard normal; Box–Muller makes two, the second is kept for the next call.
  mutating func normal() -> Double {
    if let spare = spareNormal {
      spareNormal = nil
      return spare
    }
    let radius = (-2.0 * log(1.0 - random.nextUnit())).squareRoot()
    let angle = 2.0 * Double.pi * random.nextUnit()
    spareNormal = radius * sin(angle)
    return radius * cos(angle)
  }

  /// Index of the largest of one Beta draw per arm (the first on a tie). No allocation.
  mutating func argmax(alphas: [Double], betas: [Double]) -> Int {
    var best = 0
    var bestDraw = -Double.infinity
    for arm in alphas.indices {
      let draw = beta(alphas[arm], betas[arm])
      if draw > bestDraw {
        best = arm
        bestDraw = draw
      }
    }
    return best
  }
}

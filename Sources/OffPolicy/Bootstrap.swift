import SeededRandom

/// Percentile bootstrap over requests: resample the slates with replacement and take the 2.5th and
/// 97.5th percentiles of each statistic. Deterministic for a seed (its own SplitMix64 stream, from
/// SeededRandom, so this module needs nothing from the kernels).
public struct Bootstrap: Sendable {
  public var resamples: Int
  public var seed: UInt64

  public init(resamples: Int = 1000, seed: UInt64 = 0x5EED) {
    self.resamples = max(resamples, 1)
    self.seed = seed
  }

  /// The 95% interval of each statistic (nil where a resample has no value: the interval is nil).
  public func intervals(_ slates: [SlateSums], statistics: [(SlateSums) -> Double?]) -> [(low: Double, high: Double)?] {
    guard !slates.isEmpty else { return statistics.map { _ in nil } }
    var random = SplitMix64(seed: seed)
    var draws = [[Double]](repeating: [], count: statistics.count)
    var defined = [Bool](repeating: true, count: statistics.count)
    for _ in 0..<resamples {
      var total = SlateSums()
      for _ in 0..<slates.count { total += slates[Int(random.next() % UInt64(slates.count))] }
      for (index, statistic) in statistics.enumerated() where defined[index] {
        if let value = statistic(total) { draws[index].append(value) } else { defined[index] = false }
      }
    }
    return draws.indices.map { index in
      guard defined[index] else { return nil }
      let sorted = draws[index].sorted()
      return (Self.percentile(sorted, 0.025), Self.percentile(sorted, 0.975))
    }
  }

  /// Linear interpolation between order statistics (numpy's default).
  static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    let place = fraction * Double(sorted.count - 1)
    let below = Int(place)
    let above = min(below + 1, sorted.count - 1)
    return sorted[below] + (sorted[above] - sorted[below]) * (place - Double(below))
  }
}

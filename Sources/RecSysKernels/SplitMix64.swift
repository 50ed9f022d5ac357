import SeededRandom

extension Kernels {
  /// The seeded generator exploration policies draw from (SeededRandom's, shared with Experiments).
  public typealias SplitMix64 = SeededRandom.SplitMix64
}

// A small, fast, seedable pseudo-random generator and its 64-bit mix: the same seed gives the
// same stream on every machine and every run. A value type with no global state, so each
// request owns its generator and threads never share one. Its own module (no dependencies) so
// Experiments can draw and hash without linking the math kernels (and OpenBLAS) into the host;
// RecSysKernels re-exports it as `Kernels.SplitMix64` for plugins.

/// SplitMix64 (Steele, Lea & Flood 2014; the generator Java's `SplittableRandom` and xoshiro's
/// seeding use): a 64-bit counter advanced by the golden-ratio constant, passed through a
/// finalizing mix. Every seed, 0 included, starts a full-period (2^64) stream, and neighbouring
/// seeds (request ids hashed to 1, 2, 3, ...) give unrelated streams. Not for cryptography.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  @usableFromInline var state: UInt64

  @inlinable
  public init(seed: UInt64) {
    state = seed
  }

  /// The next 64 random bits.
  @inlinable @inline(__always)
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return Self.mix64(state)
  }

  /// SplitMix64's finaliser (the output mix of `next()`, without its increment): a bijection of
  /// 64-bit values that spreads every input bit over every output bit. Experiments' bucketing
  /// hash uses it on its own (see Bucketing).
  @inlinable @inline(__always)
  public static func mix64(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform double in [0, 1) from the top 53 bits: `nextUnit() < p` holds with probability
  /// exactly `p` rounded to a multiple of 2^-53 (so `p == 0` never, `p == 1` always).
  @inlinable @inline(__always)
  public mutating func nextUnit() -> Double {
    Double(next() >> 11) * 0x1p-53
  }

  /// A uniform integer in `0..<bound` (`bound > 0`), without modulo bias (Lemire's
  /// multiply-and-reject). Written out rather than `Int.random(in:using:)` so the stream a seed
  /// gives cannot change with the standard library.
  @inlinable @inline(__always)
  public mutating func next(below bound: Int) -> Int {
    precondition(bound > 0, "SplitMix64.next(below:): bound must be positive")
    let range = UInt64(bound)
    var product = next().multipliedFullWidth(by: range)
    if product.low < range {
      let threshold = (0 &- range) % range  // 2^64 mod range
      while product.low < threshold { product = next().multipliedFullWidth(by: range) }
    }
    return Int(product.high)
  }
}

// exp, sigmoid, tanh and erf over whole buffers, eight lanes at a time.
//
// Why not libm: the LSTM cell calls sigmoid three times and tanh twice per hidden unit and step, and
// SASRec's GELU one erf per FFN activation; as scalar `expf`/`tanhf`/`erff` calls these were ~20 %
// of an lstm request's CPU (perf). These are branch-free polynomial forms on SIMD8<Float> that the
// compiler keeps in vector registers (SSE2, the baseline these modules are built for: ~1.5 ns per
// value against 6-18 ns for the libm calls). Accuracy (checked over dense ranges in
// TranscendentalTests): exp within 3e-7 relative (Cephes expf polynomial), sigmoid and tanh within
// 3e-7 absolute, erf within 5e-7 absolute — far inside the 1e-4 parity contract.
//
// Every element goes through the same SIMD code path (a tail is padded into one vector), so a value
// gets the same result wherever it sits in a buffer. NaN in gives NaN out, as in PyTorch.

extension Kernels {
  /// `x = exp(x)` in place. Flushes to 0 below -87.3 (so exp(-inf) = 0, as masked softmax entries
  /// need); saturates to `exp(88)` (about 1.65e38) above 88 instead of overflowing to infinity
  /// (callers here subtract a row maximum first or only divide by it).
  public static func exp(_ values: UnsafeMutableBufferPointer<Float>) {
    forEachVector(values, ExpLanes.self)
  }

  /// `nn.Sigmoid` in place: `x = 1 / (1 + exp(-x))`.
  public static func sigmoid(_ values: UnsafeMutableBufferPointer<Float>) {
    forEachVector(values, SigmoidLanes.self)
  }

  /// `torch.tanh` in place.
  public static func tanh(_ values: UnsafeMutableBufferPointer<Float>) {
    forEachVector(values, TanhLanes.self)
  }

  /// `torch.erf` in place.
  public static func erf(_ values: UnsafeMutableBufferPointer<Float>) {
    forEachVector(values, ErfLanes.self)
  }

  typealias Lanes = SIMD8<Float>

  /// A function applied to 8 lanes at a time. A type rather than a closure so that `forEachVector`
  /// is specialised for each and the body inlined into the loop (with closures the optimizer kept
  /// an out-of-line call, or a call through a pointer, per 8 lanes, passing vectors through memory:
  /// perf put a third of these kernels' time there).
  protocol LaneFunction {
    static func apply(_ x: Lanes) -> Lanes
  }

  enum ExpLanes: LaneFunction {
    @inline(__always) static func apply(_ x: Lanes) -> Lanes { vectorExp(x) }
  }

  enum SigmoidLanes: LaneFunction {
    @inline(__always) static func apply(_ x: Lanes) -> Lanes { vectorSigmoid(x) }
  }

  enum TanhLanes: LaneFunction {
    @inline(__always) static func apply(_ x: Lanes) -> Lanes { vectorTanh(x) }
  }

  enum ErfLanes: LaneFunction {
    @inline(__always) static func apply(_ x: Lanes) -> Lanes { vectorErf(x) }
  }

  /// Applies `F` to `values` eight at a time; the last `count % 8` are padded with zeros into one
  /// vector (never reading or writing past the buffer).
  @inline(__always)
  static func forEachVector<F: LaneFunction>(_ values: UnsafeMutableBufferPointer<Float>, _: F.Type) {
    guard let base = values.baseAddress else { return }
    let count = values.count
    var i = 0
    while i + 8 <= count {
      let raw = UnsafeMutableRawPointer(base + i)
      raw.storeBytes(of: F.apply(raw.loadUnaligned(as: Lanes.self)), as: Lanes.self)
      i += 8
    }
    if i < count {
      var tail = Lanes()
      for j in 0..<(count - i) { tail[j] = base[i + j] }
      let result = F.apply(tail)
      for j in 0..<(count - i) { base[i + j] = result[j] }
    }
  }

  /// exp on 8 lanes: `x = n ln2 + r`, |r| <= ln2 / 2, `exp(r)` by the Cephes expf polynomial,
  /// times `2^n` built in the exponent bits.
  @inline(__always)
  static func vectorExp(_ input: Lanes) -> Lanes {
    let x = clamp(input, -87.3, 88)
    // Round x·log2(e) to the nearest integer with the 1.5·2^23 trick (SSE2 has no roundps): after
    // adding it, the low mantissa bits hold n.
    let shifter = Lanes(repeating: 12_582_912)
    let shifted = x * Lanes(repeating: 1.442_695_04) + shifter
    let n = shifted - shifter
    let r = x - n * Lanes(repeating: 0.693_359_375) - n * Lanes(repeating: -2.121_944_4e-4)
    var p = Lanes(repeating: 1.987_569_15e-4)
    p = p * r + Lanes(repeating: 1.398_199_950_7e-3)
    p = p * r + Lanes(repeating: 8.333_451_907_3e-3)
    p = p * r + Lanes(repeating: 4.166_579_589_4e-2)
    p = p * r + Lanes(repeating: 1.666_666_545_9e-1)
    p = p * r + Lanes(repeating: 5.000_000_120_1e-1)
    p = p * r * r + r + 1
    // 2^n: (n + 127) << 23 as float bits; n = shifted's bits minus the shifter's.
    let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- Int32(bitPattern: 0x4B40_0000)
    let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: Lanes.self)
    let flushed = (p * scale).replacing(with: 0, where: input .< Lanes(repeating: -87.3))
    return keepNaN(input, flushed)
  }

  @inline(__always)
  static func vectorSigmoid(_ x: Lanes) -> Lanes {
    1 / (1 + vectorExp(-x))
  }

  /// tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)); large |x| gives exactly ±1. Below |x| = 1/64 the
  /// subtraction would cancel (absolute error ~1e-7, relative up to 1), so there the series
  /// x - x³/3 + 2x⁵/15 is used instead (next term < 1e-13).
  @inline(__always)
  static func vectorTanh(_ x: Lanes) -> Lanes {
    let signBit = SIMD8<UInt32>(repeating: 0x8000_0000)
    let xBits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    let magnitude = unsafeBitCast(xBits & ~signBit, to: Lanes.self)
    let e = vectorExp(2 * magnitude)
    let m2 = magnitude * magnitude
    let series = magnitude * (1 + m2 * (Lanes(repeating: -1.0 / 3) + m2 * Lanes(repeating: 2.0 / 15)))
    let t = (1 - 2 / (e + 1)).replacing(with: series, where: magnitude .< Lanes(repeating: 1.0 / 64))
    // Put x's sign bit onto t (t >= 0).
    let bits = unsafeBitCast(t, to: SIMD8<UInt32>.self) | (xBits & signBit)
    return keepNaN(x, unsafeBitCast(bits, to: Lanes.self))
  }

  /// erf as the odd/even rational minimax fit Eigen and XLA use for float (`erf(x) = x P(x²) / Q(x²)`
  /// on [-4, 4], where float erf is already ±1 outside).
  @inline(__always)
  static func vectorErf(_ input: Lanes) -> Lanes {
    let x = clamp(input, -4, 4)
    let x2 = x * x
    var p = x2 * Lanes(repeating: -2.726_142_258_013_06e-10) + Lanes(repeating: 2.770_681_424_959_02e-08)
    p = x2 * p + Lanes(repeating: -2.101_024_020_825_08e-06)
    p = x2 * p + Lanes(repeating: -5.692_506_394_623_46e-05)
    p = x2 * p + Lanes(repeating: -7.349_906_303_268_55e-04)
    p = x2 * p + Lanes(repeating: -2.954_599_808_540_25e-03)
    p = x2 * p + Lanes(repeating: -1.609_603_332_624_15e-02)
    p = x * p
    var q = x2 * Lanes(repeating: -1.456_607_184_649_96e-05) + Lanes(repeating: -2.133_740_552_789_05e-04)
    q = x2 * q + Lanes(repeating: -1.682_826_974_382_03e-03)
    q = x2 * q + Lanes(repeating: -7.373_329_167_204_68e-03)
    q = x2 * q + Lanes(repeating: -1.426_473_905_141_89e-02)
    return keepNaN(input, p / q)
  }

  /// `x` limited to `low...high`, as compare-and-select (the standard library's `clamped` and
  /// `pointwiseMin`/`Max` on SIMD8 compiled to out-of-line scalar loops: 4 % of an lstm request's
  /// instructions each). NaN stays NaN.
  @inline(__always)
  static func clamp(_ x: Lanes, _ low: Float, _ high: Float) -> Lanes {
    let low = Lanes(repeating: low)
    let high = Lanes(repeating: high)
    return x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
  }

  /// `result`, with NaN wherever `input` is NaN (a safeguard: the exponent-bit tricks must never
  /// turn a NaN into a number).
  @inline(__always)
  static func keepNaN(_ input: Lanes, _ result: Lanes) -> Lanes {
    result.replacing(with: input, where: input .!= input)
  }
}

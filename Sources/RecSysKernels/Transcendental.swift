// exp, sigmoid, tanh and erf over whole buffers, in place.
//
// Why not libm: the LSTM cell calls sigmoid three times and tanh twice per hidden unit and step, and
// SASRec's GELU one erf per FFN activation; as scalar `expf`/`tanhf`/`erff` calls these were ~20 %
// of an lstm request's CPU (perf). Why not Swift SIMD: this module is built for the x86-64 baseline
// (SSE2), where the same polynomials ran at ~1.5 ns per value and were still a fifth of an lstm
// request (perf, issue 19). They live in CRecSysMath (C), compiled for AVX-512, AVX2 + FMA and SSE2
// and chosen at run time from the CPU: branch-free polynomial forms, every element through the same
// code path, so a value gets the same result wherever it sits in a buffer. Accuracy (checked over
// dense ranges in TranscendentalTests): exp within 3e-7 relative (Cephes expf polynomial), sigmoid
// and tanh within 3e-7 absolute, erf within 5e-7 absolute — far inside the 1e-4 parity contract.
// NaN in gives NaN out, as in PyTorch.

import CRecSysMath

extension Kernels {
  /// `x = exp(x)` in place. Flushes to 0 below -87.3 (so exp(-inf) = 0, as masked softmax entries
  /// need); saturates to `exp(88)` (about 1.65e38) above 88 instead of overflowing to infinity
  /// (callers here subtract a row maximum first or only divide by it).
  public static func exp(_ values: UnsafeMutableBufferPointer<Float>) {
    guard let base = values.baseAddress else { return }
    recsys_exp(base, values.count)
  }

  /// `nn.Sigmoid` in place: `x = 1 / (1 + exp(-x))`.
  public static func sigmoid(_ values: UnsafeMutableBufferPointer<Float>) {
    guard let base = values.baseAddress else { return }
    recsys_sigmoid(base, values.count)
  }

  /// `torch.tanh` in place.
  public static func tanh(_ values: UnsafeMutableBufferPointer<Float>) {
    guard let base = values.baseAddress else { return }
    recsys_tanh(base, values.count)
  }

  /// `torch.erf` in place.
  public static func erf(_ values: UnsafeMutableBufferPointer<Float>) {
    guard let base = values.baseAddress else { return }
    recsys_erf(base, values.count)
  }

  /// `nn.GELU()` (exact, not the tanh approximation) in place: `x = 0.5 * x * (1 + erf(x / sqrt(2)))`.
  public static func gelu(
    _ values: UnsafeMutableBufferPointer<Float>  // [count]
  ) {
    guard let base = values.baseAddress else { return }
    recsys_gelu(base, values.count)
  }

  /// Which compiled variant of these kernels this CPU runs: "avx512", "avx2" or "sse2".
  public static var transcendentalVariant: String { String(cString: recsys_math_variant()) }
}

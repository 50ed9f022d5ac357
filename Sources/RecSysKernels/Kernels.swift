// RecSysKernels: the math every model plugin composes.
//
// Overview
// --------
// Every operation is a static function on the caseless `Kernels` namespace. Operations take
// `UnsafeBufferPointer<Float>` inputs and write into caller-owned `UnsafeMutableBufferPointer<Float>`
// outputs; nothing here owns or allocates memory (the two composite kernels, `lstmLayer` and
// `causalSelfAttention`, take a caller-provided scratch buffer whose size a companion
// `...ScratchCount` function returns; `LSTMRecurrentWeights` owns W_hh repacked once at load). Plugins keep per-request arenas and hand out slices.
//
// Layout. Matrices are dense, row-major, float32, exactly as PyTorch stores them in a state_dict:
// `nn.Linear.weight` is `[outFeatures x inFeatures]`, `nn.Embedding.weight` is `[N x d]`,
// `nn.LSTM.weight_ih_l0` is `[4H x inputSize]` in gate order i, f, g, o. Shapes are written beside
// each argument as `[rows x cols]`. Where a function takes a `...Stride` (a BLAS leading
// dimension), a matrix may be a block of a wider one: pass the buffer starting at the block's first
// element and the wider matrix's row length as the stride (e.g. the first 2d columns of an MLP's
// first layer: `weight` = the whole weight buffer, `weightStride` = the layer's full input width).
//
// Sizes. Every function checks with `precondition` that each buffer holds at least the elements
// its shape spans (`(rows - 1) * stride + cols`); a larger buffer is fine and only the spanned
// prefix is read or written. The checks are cheap and stay on in release builds.
//
// Numerics. Each kernel follows the PyTorch module it stands for (the contract is 1e-4 absolute in
// float32): GEMM/GEMV are OpenBLAS, LayerNorm uses the biased variance, GELU is the exact erf form
// (erf, exp, tanh and sigmoid are polynomial/rational forms within ~5e-7 of libm, Transcendental.swift),
// softmax subtracts the row maximum, the LSTM and attention kernels follow `nn.LSTM` and
// `nn.MultiheadAttention` step by step. This module's tests compare against plain float64 loops;
// parity with PyTorch itself is checked by the plugins' golden tests.
//
// Threads. All functions are reentrant: they touch only their arguments. OpenBLAS would start a
// thread per core; requests are our parallelism, so call `Kernels.useSingleThread()` once at start-up.
//
// Files, one idea each:
//   Kernels.swift        this overview, the namespace, threading, size checks
//   BLAS.swift           gemm, gemv, linear (bias and ReLU fused; one output as a GEMV), dot
//   PreparedLinear.swift PreparedLinear: nn.Linear on weights transposed once at load (AVX-512 kernel)
//   Elementwise.swift    relu, gelu, addBias, add, scale, softmax
//   Transcendental.swift exp, sigmoid, tanh, erf over buffers, eight lanes at a time (no libm calls)
//   LayerNorm.swift      layerNorm, addLayerNorm (residual add fused with the norm that reads it)
//   Rows.swift           gatherRows, gatherRowsAdding, meanOfRows, dotRows (embedding lookups)
//   LSTM.swift           lstmLayer (+ lstmScratchCount, LSTMRecurrentWeights): a fused C step per time step
//   Attention.swift      causalSelfAttention (+ causalSelfAttentionScratchCount), raw or prepared projections
//   Scan.swift           scanDotProducts, int8Scores (whole-catalog scans), allocateScanTable (huge pages)
//   TopK.swift           topK (bounded heap; descending score, ties to the lower index, NaN lowest)
//   SplitMix64.swift     Kernels.SplitMix64: SeededRandom's seeded, allocation-free generator (exploration is
//                        reproducible per request)
//   EpsilonGreedy.swift  epsilonGreedySlate: greedy top-k, each slot explored with probability epsilon,
//                        with every pick's propensity

import COpenBLAS

/// Namespace of the math kernels. See the overview at the top of `Kernels.swift`.
public enum Kernels {
  /// Restricts OpenBLAS to the calling thread for every later call (`openblas_set_num_threads(1)`).
  /// Call once at start-up, before serving; calling again is harmless: the first call sets it
  /// (once, thread-safely), a later one only if something since raised the count again (a read of
  /// OpenBLAS's global otherwise, so concurrent plugin inits never race on the setter).
  public static func useSingleThread() {
    _ = singleThreadOnce
    if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
  }

  /// The number of threads OpenBLAS currently uses (`openblas_get_num_threads()`).
  public static var blasThreadCount: Int {
    Int(openblas_get_num_threads())
  }

  // A global `let` initialiser runs exactly once, thread-safely (swift_once).
  private static let singleThreadOnce: Void = {
    openblas_set_num_threads(1)
  }()
}

// MARK: - Size checks shared by the kernels

extension Kernels {
  /// Elements a `[rows x cols]` matrix with row stride `stride` spans (0 when it is empty).
  @inline(__always)
  static func span(rows: Int, cols: Int, stride: Int) -> Int {
    rows == 0 || cols == 0 ? 0 : (rows - 1) * stride + cols
  }

  @inline(__always)
  static func requireMatrix(
    _ count: Int, rows: Int, cols: Int, stride: Int, _ name: StaticString
  ) {
    precondition(rows >= 0 && cols >= 0, "negative dimension")
    precondition(stride >= max(1, cols), "row stride smaller than the row length")
    precondition(count >= span(rows: rows, cols: cols, stride: stride), "\(name)")
  }

  @inline(__always)
  static func requireCount(_ count: Int, atLeast needed: Int, _ name: StaticString) {
    precondition(needed >= 0, "negative dimension")
    precondition(count >= needed, "\(name)")
  }

  /// BLAS takes 32-bit dimensions.
  @inline(__always)
  static func blasInt(_ value: Int) -> Int32 {
    precondition(value >= 0 && value <= Int(Int32.max), "dimension does not fit BLAS's 32-bit int")
    return Int32(truncatingIfNeeded: value)
  }
}

// nn.Linear with its weight prepared once at load for the C kernel of CRecSysMath/linear.c.

import CRecSysMath

/// An `nn.Linear` (weight `[out x in]`, optional bias) whose weight is also stored transposed
/// (`[in x out]`), made once when the model loads, for `recsys_linear_transposed`: on SASRec's
/// encoder shapes (50 rows, K 64 ... 512) that register-tiled AVX-512 kernel measured ~1.3x
/// faster than OpenBLAS's sgemm, which packs both operands on every call (large against K = 64).
/// Where the kernel does not run (no AVX-512), or with `transposed: false`, no copy is made and
/// `apply` is `Kernels.linear` (OpenBLAS) on the original weight.
public struct PreparedLinear {
  public let inFeatures: Int
  public let outFeatures: Int
  let weight: UnsafeBufferPointer<Float>  // [outFeatures x inFeatures] (nn.Linear)
  let bias: UnsafeBufferPointer<Float>?  // [outFeatures]
  let transposedWeight: [Float]  // [inFeatures x outFeatures], empty when OpenBLAS computes

  /// Whether `apply` runs the transposed-weight C kernel (else OpenBLAS).
  public var usesTransposedKernel: Bool { !transposedWeight.isEmpty }

  /// `weight` and `bias` must outlive this value (they are the model's mapped tensors).
  public init(
    weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?, inFeatures: Int, outFeatures: Int,
    transposed: Bool = true
  ) {
    precondition(inFeatures >= 0 && outFeatures >= 0, "PreparedLinear: negative dimension")
    Kernels.requireMatrix(
      weight.count, rows: outFeatures, cols: inFeatures, stride: max(1, inFeatures), "PreparedLinear: weight too small")
    if let bias { Kernels.requireCount(bias.count, atLeast: outFeatures, "PreparedLinear: bias too small") }
    (self.weight, self.bias, self.inFeatures, self.outFeatures) = (weight, bias, inFeatures, outFeatures)
    guard transposed && inFeatures > 0 && recsys_linear_transposed_available() != 0 else {
      transposedWeight = []
      return
    }
    var transposedWeight = [Float](repeating: 0, count: inFeatures * outFeatures)
    for j in 0..<outFeatures {
      for p in 0..<inFeatures { transposedWeight[p * outFeatures + j] = weight[j * inFeatures + p] }
    }
    self.transposedWeight = transposedWeight
  }

  /// `output[r, c - columns.lowerBound] = input[r] · weight[c] + bias[c]` for the output features
  /// `columns` (default all): `nn.Linear`, or a block of its outputs (e.g. only the queries of a
  /// packed q|k|v projection). Strides default to the packed widths (`inFeatures`, `columns.count`).
  /// `output` must not overlap `input`.
  public func apply(
    input: UnsafeBufferPointer<Float>,  // [rows x inFeatures], row stride inputStride
    rows: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [rows x columns.count], row stride outputStride
    columns: Range<Int>? = nil,
    inputStride: Int? = nil, outputStride: Int? = nil
  ) {
    let columns = columns ?? 0..<outFeatures
    precondition(columns.lowerBound >= 0 && columns.upperBound <= outFeatures, "PreparedLinear: columns out of range")
    let width = columns.count
    let inStride = inputStride ?? inFeatures
    let outStride = outputStride ?? width
    Kernels.requireMatrix(input.count, rows: rows, cols: inFeatures, stride: inStride, "PreparedLinear: input too small")
    Kernels.requireMatrix(output.count, rows: rows, cols: width, stride: outStride, "PreparedLinear: output too small")
    if rows == 0 || width == 0 { return }
    if !transposedWeight.isEmpty {
      let computed = transposedWeight.withUnsafeBufferPointer { t in
        recsys_linear_transposed(
          input.baseAddress!, rows, inFeatures, inStride, t.baseAddress! + columns.lowerBound, outFeatures,
          bias.map { $0.baseAddress! + columns.lowerBound }, output.baseAddress!, width, outStride)
      }
      if computed != 0 { return }
    }
    Kernels.linear(
      input: input, weight: UnsafeBufferPointer(rebasing: weight[columns.lowerBound * inFeatures..<columns.upperBound * inFeatures]),
      bias: bias.map { UnsafeBufferPointer(rebasing: $0[columns]) }, output: output,
      rows: rows, inFeatures: inFeatures, outFeatures: width, inputStride: inStride, outputStride: outStride)
  }
}

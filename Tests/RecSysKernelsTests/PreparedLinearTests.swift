// PreparedLinear (the transposed-weight C kernel where the CPU has AVX-512, else OpenBLAS) against
// Kernels.linear, and causalSelfAttention with prepared projections against the plain reference.

import RecSysKernels
import XCTest

final class PreparedLinearTests: XCTestCase {
  override class func setUp() { Kernels.useSingleThread() }

  /// Odd shapes around the kernel's 4-row x 64/32/16-column tiles and masked tail (row and column tails, one row, K 1),
  /// output column blocks, and strided input / output, each equal to Kernels.linear on the same
  /// weight rows; the output outside its block is left as it was.
  func testApplyEqualsLinear() {
    var rng = SeededGenerator(seed: 60)
    let shapes: [(rows: Int, inFeatures: Int, outFeatures: Int)] = [
      (0, 4, 4), (1, 1, 1), (1, 64, 192), (3, 5, 7), (4, 64, 64), (5, 13, 65), (50, 64, 192), (50, 256, 64),
      (9, 33, 130), (50, 64, 256),
      // Narrow panels and the masked tail (d 32: 32-wide out projection and FFN output, 96-wide q|k|v).
      (50, 128, 32), (7, 32, 96), (5, 20, 48), (6, 9, 23), (3, 8, 40), (4, 16, 16), (2, 3, 15),
    ]
    for shape in shapes {
      let (rows, inFeatures, outFeatures) = shape
      let weight = Guarded(rng.floats(outFeatures * inFeatures))
      let bias = Guarded(rng.floats(outFeatures))
      let inputStride = inFeatures + 3
      let input = Guarded(rng.floats(rows * inputStride, in: -2...2))
      for withBias in [true, false] {
        let prepared = PreparedLinear(
          weight: weight.buffer, bias: withBias ? bias.buffer : nil, inFeatures: inFeatures, outFeatures: outFeatures)
        if rows == 0 && withBias { print("PreparedLinear: transposed C kernel on this CPU: \(prepared.usesTransposedKernel)") }
        let columnBlocks = Set([0..<outFeatures, 0..<(outFeatures / 3), (outFeatures / 3)..<outFeatures])
        for columns in columnBlocks {
          let label = "PreparedLinear \(rows)x\(inFeatures) -> \(outFeatures) columns \(columns) bias \(withBias)"
          let width = columns.count
          let outputStride = width + 2
          let expected = Guarded(count: rows * outputStride, repeating: 7)
          Kernels.linear(
            input: input.buffer,
            weight: UnsafeBufferPointer(rebasing: weight.buffer[columns.lowerBound * inFeatures..<columns.upperBound * inFeatures]),
            bias: withBias ? UnsafeBufferPointer(rebasing: bias.buffer[columns]) : nil, output: expected.mutable,
            rows: rows, inFeatures: inFeatures, outFeatures: width, inputStride: inputStride, outputStride: outputStride)
          let output = Guarded(count: rows * outputStride, repeating: 7)
          prepared.apply(
            input: input.buffer, rows: rows, output: output.mutable, columns: columns, inputStride: inputStride,
            outputStride: outputStride)
          assertClose(output.array, expected.array, label)
          output.assertGuardsIntact(label)
        }
      }
    }
  }

  /// The prepared projections give the reference attention, every query row and only the last.
  func testAttentionWithPreparedProjections() {
    var rng = SeededGenerator(seed: 61)
    for (steps, dim, heads) in [(1, 4, 2), (7, 12, 3), (50, 64, 2), (50, 64, 4), (21, 128, 2)] {
      let (x, inW, inB, outW, outB, expected) = randomAttention(steps: steps, dim: dim, heads: heads, &rng)
      let inProjection = PreparedLinear(weight: inW.buffer, bias: inB.buffer, inFeatures: dim, outFeatures: 3 * dim)
      let outProjection = PreparedLinear(weight: outW.buffer, bias: outB.buffer, inFeatures: dim, outFeatures: dim)
      let scratch = Guarded(count: Kernels.causalSelfAttentionScratchCount(steps: steps, dim: dim))
      for first in Set([0, steps - 1]) {
        let label = "prepared attention T=\(steps) d=\(dim) heads=\(heads) firstQuery=\(first)"
        let out = Guarded(count: (steps - first) * dim)
        Kernels.causalSelfAttention(
          input: x.buffer, inProjection: inProjection, outProjection: outProjection, heads: heads, steps: steps,
          dim: dim, output: out.mutable, scratch: scratch.mutable, firstQuery: first)
        assertClose(out.array, Array(expected[(first * dim)...]), label)
        out.assertGuardsIntact(label)
        scratch.assertGuardsIntact(label + " scratch")
      }
    }
  }
}

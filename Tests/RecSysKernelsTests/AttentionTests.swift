// causalSelfAttention against a plain nn.MultiheadAttention reference (Double, per head, per row).

import Foundation
import RecSysKernels
import XCTest

func naiveCausalSelfAttention(
  x: [Float], steps: Int, dim: Int, heads: Int,
  inW: [Float], inB: [Float], outW: [Float], outB: [Float]
) -> [Double] {
  let hd = dim / heads
  // q | k | v = x · inW^T + inB
  var qkv = [Double](repeating: 0, count: steps * 3 * dim)
  for t in 0..<steps {
    for r in 0..<(3 * dim) {
      var s = Double(inB[r])
      for j in 0..<dim { s += Double(x[t * dim + j]) * Double(inW[r * dim + j]) }
      qkv[t * 3 * dim + r] = s
    }
  }
  var context = [Double](repeating: 0, count: steps * dim)
  for h in 0..<heads {
    for i in 0..<steps {
      var scores: [Double] = []
      for j in 0...i {  // causal: 0 through i
        var s = 0.0
        for e in 0..<hd { s += qkv[i * 3 * dim + h * hd + e] * qkv[j * 3 * dim + dim + h * hd + e] }
        scores.append(s / Double(hd).squareRoot())
      }
      let m = scores.max()!
      let exps = scores.map { exp($0 - m) }
      let sum = exps.reduce(0, +)
      for j in 0...i {
        let p = exps[j] / sum
        for e in 0..<hd { context[i * dim + h * hd + e] += p * qkv[j * 3 * dim + 2 * dim + h * hd + e] }
      }
    }
  }
  var out: [Double] = []
  for t in 0..<steps {
    for r in 0..<dim {
      var s = Double(outB[r])
      for j in 0..<dim { s += context[t * dim + j] * Double(outW[r * dim + j]) }
      out.append(s)
    }
  }
  return out
}

/// Random input and weights of one attention (uniform, weights in -0.5...0.5) and the reference output.
func randomAttention(steps: Int, dim: Int, heads: Int, _ rng: inout SeededGenerator) -> (
  x: Guarded, inW: Guarded, inB: Guarded, outW: Guarded, outB: Guarded, expected: [Double]
) {
  let x = Guarded(rng.floats(steps * dim))
  let inW = Guarded(rng.floats(3 * dim * dim, in: -0.5...0.5))
  let inB = Guarded(rng.floats(3 * dim))
  let outW = Guarded(rng.floats(dim * dim, in: -0.5...0.5))
  let outB = Guarded(rng.floats(dim))
  let expected = naiveCausalSelfAttention(
    x: x.array, steps: steps, dim: dim, heads: heads, inW: inW.array, inB: inB.array, outW: outW.array,
    outB: outB.array)
  return (x, inW, inB, outW, outB, expected)
}

final class AttentionTests: XCTestCase {
  override class func setUp() { Kernels.useSingleThread() }

  func testCausalSelfAttention() {
    let shapes: [(steps: Int, dim: Int, heads: Int)] = [
      (0, 4, 2), (1, 1, 1), (1, 4, 2), (2, 2, 2), (3, 4, 1), (5, 8, 2), (9, 12, 3), (17, 64, 2), (50, 64, 4),
      (33, 48, 1),
    ]
    var rng = SeededGenerator(seed: 50)
    for t in shapes {
      let label = "attention T=\(t.steps) d=\(t.dim) heads=\(t.heads)"
      let x = Guarded(rng.floats(t.steps * t.dim, in: -2...2))
      let inW = Guarded(rng.floats(3 * t.dim * t.dim, in: -0.5...0.5))
      let inB = Guarded(rng.floats(3 * t.dim))
      let outW = Guarded(rng.floats(t.dim * t.dim, in: -0.5...0.5))
      let outB = Guarded(rng.floats(t.dim))
      let out = Guarded(count: t.steps * t.dim)
      let scratch = Guarded(count: Kernels.causalSelfAttentionScratchCount(steps: t.steps, dim: t.dim))
      Kernels.causalSelfAttention(
        input: x.buffer, inProjWeight: inW.buffer, inProjBias: inB.buffer,
        outProjWeight: outW.buffer, outProjBias: outB.buffer,
        heads: t.heads, steps: t.steps, dim: t.dim, output: out.mutable, scratch: scratch.mutable)
      let expected = naiveCausalSelfAttention(
        x: x.array, steps: t.steps, dim: t.dim, heads: t.heads,
        inW: inW.array, inB: inB.array, outW: outW.array, outB: outB.array)
      assertClose(out.array, expected, label)
      out.assertGuardsIntact(label)
      scratch.assertGuardsIntact(label + " scratch")
    }
  }

  /// Row i must not depend on rows after i: changing the last input row leaves earlier outputs alone.
  func testCausality() {
    var rng = SeededGenerator(seed: 51)
    let (steps, dim, heads) = (6, 8, 2)
    let x = Guarded(rng.floats(steps * dim))
    let inW = Guarded(rng.floats(3 * dim * dim))
    let inB = Guarded(rng.floats(3 * dim))
    let outW = Guarded(rng.floats(dim * dim))
    let outB = Guarded(rng.floats(dim))
    let scratch = Guarded(count: Kernels.causalSelfAttentionScratchCount(steps: steps, dim: dim))
    func run() -> [Float] {
      let out = Guarded(count: steps * dim)
      Kernels.causalSelfAttention(
        input: x.buffer, inProjWeight: inW.buffer, inProjBias: inB.buffer,
        outProjWeight: outW.buffer, outProjBias: outB.buffer,
        heads: heads, steps: steps, dim: dim, output: out.mutable, scratch: scratch.mutable)
      return out.array
    }
    let before = run()
    for j in 0..<dim { x[(steps - 1) * dim + j] += 1 }
    let after = run()
    XCTAssertEqual(Array(before[..<((steps - 1) * dim)]), Array(after[..<((steps - 1) * dim)]))
    XCTAssertNotEqual(Array(before[((steps - 1) * dim)...]), Array(after[((steps - 1) * dim)...]))
  }

  func testInPlace() {
    var rng = SeededGenerator(seed: 52)
    let (steps, dim, heads) = (7, 12, 4)
    let x = Guarded(rng.floats(steps * dim))
    let inW = Guarded(rng.floats(3 * dim * dim))
    let inB = Guarded(rng.floats(3 * dim))
    let outW = Guarded(rng.floats(dim * dim))
    let outB = Guarded(rng.floats(dim))
    let expected = naiveCausalSelfAttention(
      x: x.array, steps: steps, dim: dim, heads: heads, inW: inW.array, inB: inB.array, outW: outW.array,
      outB: outB.array)
    let scratch = Guarded(count: Kernels.causalSelfAttentionScratchCount(steps: steps, dim: dim))
    Kernels.causalSelfAttention(
      input: x.buffer, inProjWeight: inW.buffer, inProjBias: inB.buffer,
      outProjWeight: outW.buffer, outProjBias: outB.buffer,
      heads: heads, steps: steps, dim: dim, output: x.mutable, scratch: scratch.mutable)
    assertClose(x.array, expected, "attention in place")
    x.assertGuardsIntact("attention in place")
  }

  /// `firstQuery`: only the rows of positions firstQuery..<steps, equal to those rows of the full
  /// computation, written to the start of `output` (also in place), nothing past them.
  func testFirstQueryComputesTheTailRowsOnly() {
    var rng = SeededGenerator(seed: 53)
    for (steps, dim, heads) in [(1, 4, 2), (6, 8, 2), (50, 64, 2), (13, 12, 3)] {
      let (x, inW, inB, outW, outB, expected) = randomAttention(steps: steps, dim: dim, heads: heads, &rng)
      let scratch = Guarded(count: Kernels.causalSelfAttentionScratchCount(steps: steps, dim: dim))
      for first in Set([0, steps / 2, steps - 1]) {
        let label = "attention T=\(steps) d=\(dim) firstQuery=\(first)"
        let out = Guarded(count: (steps - first) * dim)
        Kernels.causalSelfAttention(
          input: x.buffer, inProjWeight: inW.buffer, inProjBias: inB.buffer,
          outProjWeight: outW.buffer, outProjBias: outB.buffer,
          heads: heads, steps: steps, dim: dim, output: out.mutable, scratch: scratch.mutable, firstQuery: first)
        assertClose(out.array, Array(expected[(first * dim)...]), label)
        out.assertGuardsIntact(label)
        scratch.assertGuardsIntact(label + " scratch")

        let inPlace = Guarded(x.array)
        Kernels.causalSelfAttention(
          input: inPlace.buffer, inProjWeight: inW.buffer, inProjBias: inB.buffer,
          outProjWeight: outW.buffer, outProjBias: outB.buffer,
          heads: heads, steps: steps, dim: dim,
          output: UnsafeMutableBufferPointer(rebasing: inPlace.mutable[0..<(steps - first) * dim]),
          scratch: scratch.mutable, firstQuery: first)
        assertClose(Array(inPlace.array[0..<(steps - first) * dim]), Array(expected[(first * dim)...]), label + " in place")
      }
    }
  }
}

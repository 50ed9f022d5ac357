// The batched kernels explanations use against their one-sequence forms: a batch must give each
// sequence exactly what running it alone gives.

import RecSysKernels
import XCTest

final class BatchedSequenceTests: XCTestCase {
  override class func setUp() { Kernels.useSingleThread() }

  func testLSTMLayerBatchEqualsEachSequenceAlone() {
    var rng = SeededGenerator(seed: 1717)
    for (steps, batch, inputSize, hidden) in [(1, 1, 3, 2), (5, 3, 4, 6), (7, 4, 8, 5), (0, 3, 4, 4)] {
      let label = "steps \(steps) batch \(batch) in \(inputSize) hidden \(hidden)"
      let layer = LSTMTests.Layer(inputSize: inputSize, hidden: hidden, rng: &rng)
      let sequences = (0..<batch).map { _ in rng.floats(steps * inputSize) }
      // Alone: lstmLayer per sequence.
      let alone = sequences.map { sequence -> [Float] in
        let input = Guarded(sequence)
        let output = Guarded(count: steps * hidden)
        let scratch = Guarded(count: Kernels.lstmScratchCount(steps: steps, hidden: hidden))
        layer.run(input, steps: steps, inputSize: inputSize, hidden: hidden, output: output, scratch: scratch)
        return output.array
      }
      // Batched: time-major gate inputs x·W_ihᵀ + b_ih + b_hh, then one call.
      let gates = Guarded(count: steps * batch * 4 * hidden)
      for t in 0..<steps {
        for b in 0..<batch {
          for r in 0..<(4 * hidden) {
            var sum = layer.bIH[r] + layer.bHH[r]
            for j in 0..<inputSize { sum += layer.wIH[r * inputSize + j] * sequences[b][t * inputSize + j] }
            gates[(t * batch + b) * 4 * hidden + r] = sum
          }
        }
      }
      let output = Guarded(count: steps * batch * hidden)
      let cell = Guarded(count: batch * hidden)
      Kernels.lstmLayerBatch(gates: gates.mutable, weightHH: layer.wHH.buffer, steps: steps, batch: batch,
                             hidden: hidden, output: output.mutable, cell: cell.mutable)
      for b in 0..<batch {
        let got = (0..<steps).flatMap { t in (0..<hidden).map { output[(t * batch + b) * hidden + $0] } }
        assertClose(got, alone[b], tolerance: 1e-5, label + " sequence \(b)")
      }
      output.assertGuardsIntact(label)
      cell.assertGuardsIntact(label)
    }
  }

  /// Sequences of lengths 4, 3, 1 in one shrinking lockstep, each continuing from the state another
  /// run reached (kept with cellStates), equal each whole sequence run alone from zeros.
  func testLSTMLayerSequencesShrinkAndContinueFromKeptStates() {
    var rng = SeededGenerator(seed: 1719)
    let (inputSize, hidden) = (3, 4)
    let layer = LSTMTests.Layer(inputSize: inputSize, hidden: hidden, rng: &rng)
    func gateInput(_ x: ArraySlice<Float>) -> [Float] {
      (0..<(4 * hidden)).map { r in
        layer.bIH[r] + layer.bHH[r] + (0..<inputSize).reduce(0) { $0 + layer.wIH[r * inputSize + $1] * x[x.startIndex + $1] }
      }
    }
    // Three sequences of 6 steps; the first two steps of each are run first (batch 3, kept states),
    // then the rest of each, 4, 3 and 1 steps, continue from there.
    let lengths = [6, 5, 3]
    let sequences = lengths.map { rng.floats($0 * inputSize) }
    let headBatches = [3, 3]
    let head = Guarded(headBatches.indices.flatMap { t in (0..<3).flatMap { gateInput(sequences[$0][(t * inputSize)...]) } })
    let headOut = Guarded(count: 6 * hidden), headCells = Guarded(count: 6 * hidden), cell = Guarded(count: 3 * hidden)
    for i in 0..<(3 * hidden) { cell[i] = 0 }
    headBatches.withUnsafeBufferPointer {
      Kernels.lstmLayerSequences(gates: head.mutable, weightHH: layer.wHH.buffer, hidden: hidden, stepBatches: $0,
                                 output: headOut.mutable, cell: cell.mutable, cellStates: headCells.mutable)
    }
    let tailBatches = [3, 2, 2, 1]
    var tailGates: [Float] = []
    for (s, running) in tailBatches.enumerated() {
      for b in 0..<running { tailGates += gateInput(sequences[b][((2 + s) * inputSize)...]) }
    }
    let tail = Guarded(tailGates), tailOut = Guarded(count: tailBatches.reduce(0, +) * hidden)
    let start = Guarded((0..<3).flatMap { b in (0..<hidden).map { headOut[(3 + b) * hidden + $0] } })
    let startCell = Guarded((0..<3).flatMap { b in (0..<hidden).map { headCells[(3 + b) * hidden + $0] } })
    tailBatches.withUnsafeBufferPointer {
      Kernels.lstmLayerSequences(gates: tail.mutable, weightHH: layer.wHH.buffer, hidden: hidden, stepBatches: $0,
                                 output: tailOut.mutable, cell: startCell.mutable, initialHidden: start.buffer)
    }
    for b in 0..<3 {
      let alone = naiveLSTMLayer(input: sequences[b].map(Double.init), steps: lengths[b], inputSize: inputSize,
                                 hidden: hidden, wIH: layer.wIH.array, wHH: layer.wHH.array, bIH: layer.bIH.array,
                                 bHH: layer.bHH.array)
      var got = (0..<2).flatMap { t in (0..<hidden).map { headOut[(t * 3 + b) * hidden + $0] } }
      var offset = 0
      for running in tailBatches {
        if b < running { got += (0..<hidden).map { tailOut[(offset + b) * hidden + $0] } }
        offset += running
      }
      assertClose(got, alone, tolerance: 1e-5, "sequence \(b)")
    }
    tailOut.assertGuardsIntact("tail")
    headCells.assertGuardsIntact("cells")
  }

  func testAttentionReportsTheLastQueryWeightsAveragedOverHeads() {
    var rng = SeededGenerator(seed: 1718)
    for (steps, dim, heads, firstQuery) in [(5, 8, 2, 0), (6, 8, 2, 5), (1, 4, 1, 0), (4, 6, 3, 3)] {
      let label = "steps \(steps) dim \(dim) heads \(heads) firstQuery \(firstQuery)"
      let inW = Guarded(rng.floats(3 * dim * dim)), inB = Guarded(rng.floats(3 * dim))
      let outW = Guarded(rng.floats(dim * dim)), outB = Guarded(rng.floats(dim))
      let input = rng.floats(steps * dim)
      let queries = steps - firstQuery
      let output = Guarded(count: queries * dim)
      let weights = Guarded(count: steps)
      let scratch = Guarded(count: Kernels.causalSelfAttentionScratchCount(steps: steps, dim: dim))
      Kernels.causalSelfAttention(
        input: Guarded(input).buffer, inProjWeight: inW.buffer, inProjBias: inB.buffer,
        outProjWeight: outW.buffer, outProjBias: outB.buffer, heads: heads, steps: steps, dim: dim,
        output: output.mutable, scratch: scratch.mutable, firstQuery: firstQuery, lastQueryWeights: weights.mutable)
      let expected = naiveCausalSelfAttention(x: input, steps: steps, dim: dim, heads: heads, inW: inW.array,
                                              inB: inB.array, outW: outW.array, outB: outB.array)
      assertClose(output.array, Array(expected[(firstQuery * dim)..<expected.count]), label)
      assertClose(weights.array, naiveLastQueryWeights(x: input, steps: steps, dim: dim, heads: heads,
                                                       inW: inW.array, inB: inB.array), label + " weights")
      XCTAssertEqual(weights.array.reduce(0, +), 1, accuracy: 1e-5, label)
      output.assertGuardsIntact(label)
      weights.assertGuardsIntact(label)
      scratch.assertGuardsIntact(label)
    }
  }
}

/// The last position's attention over 0..<steps, averaged over heads (Double).
func naiveLastQueryWeights(x: [Float], steps: Int, dim: Int, heads: Int, inW: [Float], inB: [Float]) -> [Double] {
  let headDim = dim / heads
  func project(_ row: Int, _ out: Int) -> Double {
    var sum = Double(inB[out])
    for j in 0..<dim { sum += Double(inW[out * dim + j]) * Double(x[row * dim + j]) }
    return sum
  }
  var average = [Double](repeating: 0, count: steps)
  for head in 0..<heads {
    let q = (0..<headDim).map { project(steps - 1, head * headDim + $0) }
    var scores = (0..<steps).map { i -> Double in
      (0..<headDim).reduce(0) { $0 + q[$1] * project(i, dim + head * headDim + $1) } / Double(headDim).squareRoot()
    }
    let top = scores.max()!
    scores = scores.map { exp($0 - top) }
    let total = scores.reduce(0, +)
    for i in 0..<steps { average[i] += scores[i] / total / Double(heads) }
  }
  return average
}

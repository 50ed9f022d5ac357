// lstmLayer against a plain step-by-step nn.LSTM reference (Double).

import Foundation
import RecSysKernels
import XCTest

/// One nn.LSTM layer, zero initial state, gate order i, f, g, o; returns h_t for every step.
func naiveLSTMLayer(
  input: [Double], steps: Int, inputSize: Int, hidden: Int,
  wIH: [Float], wHH: [Float], bIH: [Float], bHH: [Float]
) -> [Double] {
  func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
  var h = [Double](repeating: 0, count: hidden)
  var c = h
  var out: [Double] = []
  for t in 0..<steps {
    var gates = [Double](repeating: 0, count: 4 * hidden)
    for r in 0..<(4 * hidden) {
      var s = Double(bIH[r]) + Double(bHH[r])
      for j in 0..<inputSize { s += Double(wIH[r * inputSize + j]) * input[t * inputSize + j] }
      for j in 0..<hidden { s += Double(wHH[r * hidden + j]) * h[j] }
      gates[r] = s
    }
    for j in 0..<hidden {
      let i = sigmoid(gates[j])
      let f = sigmoid(gates[hidden + j])
      let g = tanh(gates[2 * hidden + j])
      let o = sigmoid(gates[3 * hidden + j])
      c[j] = f * c[j] + i * g
      h[j] = o * tanh(c[j])
    }
    out += h
  }
  return out
}

final class LSTMTests: XCTestCase {
  override class func setUp() { Kernels.useSingleThread() }

  struct Layer {
    let wIH, wHH, bIH, bHH: Guarded
    let recurrent: Kernels.LSTMRecurrentWeights  // wHH packed for the fused step
    init(inputSize: Int, hidden: Int, rng: inout SeededGenerator) {
      let bound = 1 / Float(max(1, hidden)).squareRoot() * 2  // a bit wider than PyTorch's init
      wIH = Guarded(rng.floats(4 * hidden * inputSize, in: -bound...bound))
      wHH = Guarded(rng.floats(4 * hidden * hidden, in: -bound...bound))
      bIH = Guarded(rng.floats(4 * hidden, in: -bound...bound))
      bHH = Guarded(rng.floats(4 * hidden, in: -bound...bound))
      recurrent = Kernels.LSTMRecurrentWeights(weightHH: wHH.buffer, hidden: hidden)
      wHH.assertGuardsIntact("packing reads only weightHH")
    }
    func run(_ input: Guarded, steps: Int, inputSize: Int, hidden: Int, output: Guarded, scratch: Guarded) {
      Kernels.lstmLayer(
        input: input.buffer, weightIH: wIH.buffer, recurrent: recurrent, biasIH: bIH.buffer,
        biasHH: bHH.buffer,
        steps: steps, inputSize: inputSize, hidden: hidden, output: output.mutable, scratch: scratch.mutable)
    }
    /// The same layer through the BLAS path (input GEMM, then per step a GEMM on W_hh and the
    /// activations as separate passes: `lstmLayerBatch` with one sequence).
    func blasPath(_ input: [Float], steps: Int, inputSize: Int, hidden: Int) -> [Float] {
      let gates = Guarded(count: steps * 4 * hidden)
      Kernels.linear(
        input: Guarded(input).buffer, weight: wIH.buffer, bias: bIH.buffer, output: gates.mutable,
        rows: steps, inFeatures: inputSize, outFeatures: 4 * hidden)
      for t in 0..<steps {
        for r in 0..<(4 * hidden) { gates[t * 4 * hidden + r] += bHH[r] }
      }
      let output = Guarded(count: steps * hidden)
      let cell = Guarded(count: hidden)
      Kernels.lstmLayerBatch(
        gates: gates.mutable, weightHH: wHH.buffer, steps: steps, batch: 1, hidden: hidden,
        output: output.mutable, cell: cell.mutable)
      return output.array
    }
    func naive(_ input: [Double], steps: Int, inputSize: Int, hidden: Int) -> [Double] {
      naiveLSTMLayer(
        input: input, steps: steps, inputSize: inputSize, hidden: hidden,
        wIH: wIH.array, wHH: wHH.array, bIH: bIH.array, bHH: bHH.array)
    }
  }

  func testLSTMLayer() {
    let shapes = [
      (0, 3, 2), (1, 1, 1), (1, 5, 3), (2, 1, 4), (5, 3, 4), (7, 8, 16), (13, 17, 9), (50, 64, 64),
      (20, 32, 100),
    ]
    var rng = SeededGenerator(seed: 40)
    for (steps, inputSize, hidden) in shapes {
      let label = "lstm T=\(steps) in=\(inputSize) H=\(hidden)"
      let layer = Layer(inputSize: inputSize, hidden: hidden, rng: &rng)
      let input = Guarded(rng.floats(steps * inputSize, in: -2...2))
      let output = Guarded(count: steps * hidden)
      let scratch = Guarded(count: Kernels.lstmScratchCount(steps: steps, hidden: hidden))
      layer.run(input, steps: steps, inputSize: inputSize, hidden: hidden, output: output, scratch: scratch)
      let expected = layer.naive(
        input.array.map(Double.init), steps: steps, inputSize: inputSize, hidden: hidden)
      assertClose(output.array, expected, label)
      output.assertGuardsIntact(label)
      scratch.assertGuardsIntact(label + " scratch")
    }
  }

  /// The fused step (packed W_hh, 16-unit blocks, C per CPU level) against the BLAS path it replaced
  /// and against float64: hidden sizes around and off the 16-unit blocks, one and two layers. The
  /// two float32 paths differ only in summation order, so they agree far inside the 1e-4 contract.
  func testFusedStepMatchesBLASPath() {
    var rng = SeededGenerator(seed: 43)
    let shapes = [  // (steps, inputSize, hidden, layers)
      (1, 4, 1, 1), (6, 5, 15, 2), (9, 16, 16, 1), (11, 7, 17, 2), (50, 64, 64, 1), (30, 32, 33, 2),
      (20, 24, 100, 1), (8, 64, 130, 2), (50, 64, 256, 1),
    ]
    for (steps, inputSize, hidden, layerCount) in shapes {
      let label = "fused T=\(steps) in=\(inputSize) H=\(hidden) layers=\(layerCount)"
      let layers = (0..<layerCount).map { k in Layer(inputSize: k == 0 ? inputSize : hidden, hidden: hidden, rng: &rng) }
      var fusedInput = Guarded(rng.floats(steps * inputSize, in: -2...2))
      var blasInput = fusedInput.array
      var naiveInput = fusedInput.array.map(Double.init)
      let scratch = Guarded(count: Kernels.lstmScratchCount(steps: steps, hidden: hidden))
      for (k, layer) in layers.enumerated() {
        let width = k == 0 ? inputSize : hidden
        let fused = Guarded(count: steps * hidden)
        layer.run(fusedInput, steps: steps, inputSize: width, hidden: hidden, output: fused, scratch: scratch)
        fused.assertGuardsIntact(label)
        scratch.assertGuardsIntact(label + " scratch")
        blasInput = layer.blasPath(blasInput, steps: steps, inputSize: width, hidden: hidden)
        naiveInput = layer.naive(naiveInput, steps: steps, inputSize: width, hidden: hidden)
        assertClose(fused.array, blasInput, tolerance: 2e-6, label + " layer \(k) vs BLAS path")
        assertClose(fused.array, naiveInput, tolerance: 1e-5, label + " layer \(k) vs float64")
        fusedInput = fused
      }
    }
  }

  /// Two stacked layers (num_layers = 2), the second running in place on the first's output.
  func testStackedLayersInPlace() {
    var rng = SeededGenerator(seed: 41)
    let (steps, d, hidden) = (9, 12, 12)
    let first = Layer(inputSize: d, hidden: hidden, rng: &rng)
    let second = Layer(inputSize: hidden, hidden: hidden, rng: &rng)
    let input = Guarded(rng.floats(steps * d))
    let h = Guarded(count: steps * hidden)
    let scratch = Guarded(count: Kernels.lstmScratchCount(steps: steps, hidden: hidden))
    first.run(input, steps: steps, inputSize: d, hidden: hidden, output: h, scratch: scratch)
    second.run(h, steps: steps, inputSize: hidden, hidden: hidden, output: h, scratch: scratch)  // aliasing
    let h1 = first.naive(input.array.map(Double.init), steps: steps, inputSize: d, hidden: hidden)
    let h2 = second.naive(h1, steps: steps, inputSize: hidden, hidden: hidden)
    assertClose(h.array, h2, "stacked lstm")
    h.assertGuardsIntact("stacked lstm")
  }

  /// A cancel check that fires before step k: the layer returns false having written exactly the
  /// steps before k (which equal the full run's), and nothing after.
  func testStopsWhenCancelled() {
    var rng = SeededGenerator(seed: 42)
    let (steps, d, hidden) = (12, 8, 16)
    let layer = Layer(inputSize: d, hidden: hidden, rng: &rng)
    let input = Guarded(rng.floats(steps * d))
    let scratch = Guarded(count: Kernels.lstmScratchCount(steps: steps, hidden: hidden))
    let full = Guarded(count: steps * hidden)
    XCTAssertTrue(Kernels.lstmLayer(
      input: input.buffer, weightIH: layer.wIH.buffer, recurrent: layer.recurrent, biasIH: layer.bIH.buffer,
      biasHH: layer.bHH.buffer, steps: steps, inputSize: d, hidden: hidden, output: full.mutable,
      scratch: scratch.mutable, isCancelled: { false }))
    for stopAt in [0, 1, 5, steps - 1] {
      let partial = Guarded(count: steps * hidden)
      var polls = 0
      let finished = Kernels.lstmLayer(
        input: input.buffer, weightIH: layer.wIH.buffer, recurrent: layer.recurrent, biasIH: layer.bIH.buffer,
        biasHH: layer.bHH.buffer, steps: steps, inputSize: d, hidden: hidden, output: partial.mutable,
        scratch: scratch.mutable, isCancelled: { defer { polls += 1 }; return polls == stopAt })
      XCTAssertFalse(finished, "cancelled before step \(stopAt)")
      XCTAssertEqual(polls, stopAt + 1, "polled once per step until cancelled")
      for i in 0..<(stopAt * hidden) { XCTAssertEqual(partial[i], full[i], "step \(i / hidden) before the stop") }
      for i in (stopAt * hidden)..<(steps * hidden) {
        XCTAssertEqual(partial[i].bitPattern, Guarded.unwritten.bitPattern, "nothing written from step \(stopAt)")
      }
      partial.assertGuardsIntact("cancelled lstm")
    }
  }

  /// lstmLayer with the input projection prepared at load (PreparedLinear: the register-tiled kernel
  /// with AVX-512, else OpenBLAS) against the plain layer and float64: input widths and hidden sizes
  /// off the kernel's 64/32/16-column panels, two layers with the second in place.
  func testPreparedInputProjectionMatchesLayer() {
    var rng = SeededGenerator(seed: 44)
    let shapes = [(1, 4, 1), (6, 5, 15), (11, 7, 17), (50, 64, 64), (30, 32, 33), (8, 24, 100)]  // (steps, in, H)
    for (steps, inputSize, hidden) in shapes {
      let label = "prepared T=\(steps) in=\(inputSize) H=\(hidden)"
      let layers = [Layer(inputSize: inputSize, hidden: hidden, rng: &rng), Layer(inputSize: hidden, hidden: hidden, rng: &rng)]
      let input = Guarded(rng.floats(steps * inputSize, in: -2...2))
      let scratch = Guarded(count: Kernels.lstmScratchCount(steps: steps, hidden: hidden))
      let plain = Guarded(count: steps * hidden)
      let prepared = Guarded(count: steps * hidden)
      var naive = input.array.map(Double.init)
      for (k, layer) in layers.enumerated() {
        let width = k == 0 ? inputSize : hidden
        layer.run(k == 0 ? input : plain, steps: steps, inputSize: width, hidden: hidden, output: plain, scratch: scratch)
        let projection = PreparedLinear(weight: layer.wIH.buffer, bias: layer.bIH.buffer, inFeatures: width, outFeatures: 4 * hidden)
        XCTAssertTrue(Kernels.lstmLayer(
          input: (k == 0 ? input : prepared).buffer, inputProjection: projection, recurrent: layer.recurrent,
          biasHH: layer.bHH.buffer, steps: steps, hidden: hidden, output: prepared.mutable, scratch: scratch.mutable))
        naive = layer.naive(naive, steps: steps, inputSize: width, hidden: hidden)
        assertClose(prepared.array, plain.array, tolerance: 2e-6, label + " layer \(k) vs plain layer")
        assertClose(prepared.array, naive, tolerance: 1e-5, label + " layer \(k) vs float64")
        prepared.assertGuardsIntact(label)
        scratch.assertGuardsIntact(label + " scratch")
      }
    }
  }
}

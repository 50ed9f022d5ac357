// layerNorm and addLayerNorm against a plain two-pass reference.

import Foundation
import RecSysKernels
import XCTest

final class LayerNormTests: XCTestCase {
  func naiveLayerNorm(_ x: [Float], rows: Int, dim: Int, _ w: [Float], _ b: [Float], eps: Double) -> [Double]
  {
    var y: [Double] = []
    for r in 0..<rows {
      let row = x[(r * dim)..<((r + 1) * dim)].map(Double.init)
      let mean = row.reduce(0, +) / Double(dim)
      let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(dim)  // biased
      for j in 0..<dim {
        y.append((row[j] - mean) / (variance + eps).squareRoot() * Double(w[j]) + Double(b[j]))
      }
    }
    return y
  }

  func testLayerNorm() {
    var rng = SeededGenerator(seed: 20)
    let shapes = [(0, 4), (1, 1), (1, 2), (3, 5), (7, 64), (50, 64), (2, 257)]
    for (rows, dim) in shapes {
      for eps: Float in [1e-5, 1e-3] {
        let label = "layerNorm \(rows)x\(dim) eps \(eps)"
        // Offset and scale the inputs so the mean matters.
        let x = Guarded(rng.floats(rows * dim, in: -3...5))
        let w = Guarded(rng.floats(dim, in: 0.5...1.5))
        let b = Guarded(rng.floats(dim))
        let y = Guarded(count: rows * dim)
        let expected = naiveLayerNorm(x.array, rows: rows, dim: dim, w.array, b.array, eps: Double(eps))
        Kernels.layerNorm(
          input: x.buffer, rows: rows, dim: dim, weight: w.buffer, bias: b.buffer, eps: eps, output: y.mutable
        )
        assertClose(y.array, expected, label)
        y.assertGuardsIntact(label)
        x.assertGuardsIntact(label)
      }
    }
  }

  func testLayerNormInPlaceAndConstantRow() {
    let dim = 6
    let x = Guarded([1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7, 7])  // second row constant: (x - mean) = 0
    let w = Guarded([Float](repeating: 2, count: dim))
    let b = Guarded([Float](repeating: 0.5, count: dim))
    let expected = naiveLayerNorm(x.array, rows: 2, dim: dim, w.array, b.array, eps: 1e-5)
    Kernels.layerNorm(input: x.buffer, rows: 2, dim: dim, weight: w.buffer, bias: b.buffer, output: x.mutable)
    assertClose(x.array, expected, "layerNorm in place")
    x.assertGuardsIntact("layerNorm in place")
  }

  /// addLayerNorm = add, then layerNorm: the stream holds the sum, the output its norm, with the
  /// output in fresh memory, over the delta (the SASRec plugin's use) and over the stream.
  func testAddLayerNormIsAddThenLayerNorm() {
    var rng = SeededGenerator(seed: 21)
    for (rows, dim) in [(0, 4), (1, 1), (1, 3), (3, 5), (7, 64), (50, 64), (2, 257)] {
      let x = rng.floats(rows * dim, in: -3...5)
      let delta = rng.floats(rows * dim, in: -2...2)
      let w = Guarded(rng.floats(dim, in: 0.5...1.5))
      let b = Guarded(rng.floats(dim))
      let sum = zip(x, delta).map { $0 + $1 }
      let expected = naiveLayerNorm(sum, rows: rows, dim: dim, w.array, b.array, eps: 1e-5)
      for target in ["fresh", "delta", "residual"] {
        let label = "addLayerNorm \(rows)x\(dim) output over \(target)"
        let residual = Guarded(x)
        let added = Guarded(delta)
        let fresh = Guarded(count: rows * dim)
        let output = target == "delta" ? added : target == "residual" ? residual : fresh
        Kernels.addLayerNorm(
          residual: residual.mutable, adding: added.buffer, rows: rows, dim: dim, weight: w.buffer, bias: b.buffer,
          output: output.mutable)
        assertClose(output.array, expected, label)
        if target != "residual" { XCTAssertEqual(residual.array, sum, label + ": stream") }
        for buffer in [residual, added, fresh] { buffer.assertGuardsIntact(label) }
      }
    }
  }
}

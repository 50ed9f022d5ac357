// relu, gelu, addBias, add, scale, softmax, gatherRowsAdding (with and without a feature block) against plain loops.

import Foundation
import CRecSysMath
import RecSysKernels
import XCTest

final class ElementwiseTests: XCTestCase {
  static let sizes = [0, 1, 2, 7, 64, 1001]

  func testRelu() {
    var rng = SeededGenerator(seed: 10)
    for count in Self.sizes {
      let x = Guarded(rng.floats(count, in: -3...3))
      let expected = x.array.map { Double($0 < 0 ? 0 : $0) }
      Kernels.relu(x.mutable)
      assertClose(x.array, expected, "relu \(count)")
      x.assertGuardsIntact("relu \(count)")
    }
    let special = Guarded([.nan, -.infinity, .infinity, -0.0, 0])
    Kernels.relu(special.mutable)
    XCTAssertTrue(special[0].isNaN, "relu keeps NaN, as torch.relu")
    XCTAssertEqual(Array(special.array[1...]), [0, .infinity, 0, 0])
  }

  func testGelu() {
    var rng = SeededGenerator(seed: 11)
    for count in Self.sizes {
      let x = Guarded(rng.floats(count, in: -6...6))
      let expected = x.array.map { v -> Double in
        let d = Double(v)
        return 0.5 * d * (1 + erf(d / 2.0.squareRoot()))
      }
      Kernels.gelu(x.mutable)
      assertClose(x.array, expected, tolerance: 1e-6, "gelu \(count)")
      x.assertGuardsIntact("gelu \(count)")
    }
    // Known values of torch.nn.functional.gelu (exact form).
    let known = Guarded([-3, -1, 0, 0.5, 1, 3])
    Kernels.gelu(known.mutable)
    assertClose(
      known.array, [-0.0040496, -0.1586553, 0, 0.3457312, 0.8413447, 2.9959502], tolerance: 1e-6, "gelu known"
    )
  }

  func testAddBias() {
    var rng = SeededGenerator(seed: 12)
    for (rows, cols) in [(0, 3), (1, 1), (3, 0), (4, 7), (33, 64)] {
      let m = Guarded(rng.floats(rows * cols))
      let bias = Guarded(rng.floats(cols))
      var expected: [Double] = []
      for r in 0..<rows { for c in 0..<cols { expected.append(Double(m[r * cols + c]) + Double(bias[c])) } }
      Kernels.addBias(m.mutable, bias: bias.buffer, rows: rows, cols: cols)
      assertClose(m.array, expected, "addBias \(rows)x\(cols)")
      m.assertGuardsIntact("addBias \(rows)x\(cols)")
    }
  }

  func testAddAndScale() {
    var rng = SeededGenerator(seed: 13)
    for count in Self.sizes {
      for alpha: Float in [1, -0.5] {
        let x = Guarded(rng.floats(count))
        let y = Guarded(rng.floats(count))
        let expected = (0..<count).map { Double(x[$0]) + Double(alpha) * Double(y[$0]) }
        Kernels.add(x.mutable, y.buffer, scaledBy: alpha)
        assertClose(x.array, expected, "add \(count) alpha \(alpha)")
        x.assertGuardsIntact("add \(count)")
      }
      let x = Guarded(rng.floats(count))
      let expected = x.array.map { Double($0) * 8 }
      Kernels.scale(x.mutable, by: 8)
      assertClose(x.array, expected, "scale \(count)")
      x.assertGuardsIntact("scale \(count)")
    }
  }

  func testSoftmax() {
    var rng = SeededGenerator(seed: 14)
    var inputs: [[Float]] = Self.sizes.map { rng.floats($0, in: -5...5) }
    inputs.append([1000, 999, 998])  // overflows exp without the max shift
    inputs.append([-1000, -1001])
    inputs.append([-.infinity, 0, -.infinity, 1])  // masked entries
    inputs.append([3, 3, 3, 3])
    for (n, values) in inputs.enumerated() {
      let x = Guarded(values)
      let m = values.map(Double.init).max() ?? 0
      let exps = values.map { exp(Double($0) - m) }
      let sum = exps.reduce(0, +)
      Kernels.softmax(x.mutable)
      assertClose(x.array, exps.map { $0 / sum }, tolerance: 1e-6, "softmax \(n)")
      x.assertGuardsIntact("softmax \(n)")
    }
    let withNaN = Guarded([1, .nan, 2])
    Kernels.softmax(withNaN.mutable)
    XCTAssertTrue(withNaN.array.allSatisfy(\.isNaN), "NaN input gives NaNs, as torch.softmax")
    Kernels.softmax(UnsafeMutableBufferPointer(start: nil, count: 0))
  }

  func testGatherRowsAdding() {
    var rng = SeededGenerator(seed: 14)
    let tableRows = 9
    // Dims around the C kernel's 16-float vectors (its scalar tail), with the dispatched variant
    // (Kernels) and the baseline SSE2 one (what runs without AVX-512 or AVX2) checked alike.
    for dim in [0, 1, 5, 15, 16, 17, 64, 100] {
      for indices in [[Int32](), [3], [8, 0, 8, 2, 5]] {
        for relu in [false, true] {
          let label = "gatherRowsAdding dim \(dim) rows \(indices) relu \(relu)"
          let table = Guarded(rng.floats(tableRows * dim, in: -2...2))
          let vector = Guarded(rng.floats(dim))
          let rows = GuardedIndices(indices)
          let output = Guarded(count: indices.count * dim)
          var expected: [Double] = []
          for index in indices {
            for j in 0..<dim {
              let sum = Double(table[Int(index) * dim + j] + vector[j])
              expected.append(relu ? max(sum, 0) : sum)
            }
          }
          withExtendedLifetime((table, vector, rows)) {
            Kernels.gatherRowsAdding(
              matrix: table.buffer, rowIndices: rows.buffer, vector: vector.buffer, dim: dim, output: output.mutable,
              relu: relu)
          }
          assertClose(output.array, expected, tolerance: 0, label)
          output.assertGuardsIntact(label)
          if dim > 0 && !indices.isEmpty {
            let baseline = Guarded(count: indices.count * dim)
            withExtendedLifetime((table, vector, rows)) {
              recsys_gather_rows_add_baseline(
                table.buffer.baseAddress!, dim, rows.buffer.baseAddress!, indices.count, vector.buffer.baseAddress!,
                nil, nil, 0, nil, relu ? 1 : 0, baseline.mutable.baseAddress!)
            }
            assertClose(baseline.array, expected, tolerance: 0, label + " baseline")
            baseline.assertGuardsIntact(label + " baseline")
          }
        }
      }
    }
    // With a feature block: + features[featureRows[i]] · weights ([width] x [width x dim]), summed
    // in the pass, for dims across the 16-float lanes and their tails.
    for dim in [1, 5, 16, 17, 64, 70] {
      for width in [1, 3, 8] {
        for relu in [false, true] {
          let indices: [Int32] = [8, 0, 8, 2, 5, 7, 1]
          let featureRows: [Int32] = [6, 0, 3, 3, 1, 2, 5]
          let label = "gatherRowsAdding dim \(dim) features \(width) relu \(relu)"
          let table = Guarded(rng.floats(tableRows * dim, in: -2...2))
          let vector = Guarded(rng.floats(dim))
          let values = Guarded(rng.floats(7 * width, in: -3...3))
          let weights = Guarded(rng.floats(width * dim, in: -1...1))
          let (rows, fRows) = (GuardedIndices(indices), GuardedIndices(featureRows))
          let output = Guarded(count: indices.count * dim)
          var expected: [Double] = []
          for (i, index) in indices.enumerated() {
            for j in 0..<dim {
              var sum = Double(table[Int(index) * dim + j]) + Double(vector[j])
              for f in 0..<width { sum += Double(values[Int(featureRows[i]) * width + f]) * Double(weights[f * dim + j]) }
              expected.append(relu ? max(sum, 0) : sum)
            }
          }
          withExtendedLifetime((table, vector, values, weights, rows, fRows)) {
            let features = Kernels.FeatureBlock(values: values.buffer, rows: fRows.buffer, width: width, weights: weights.buffer)
            Kernels.gatherRowsAdding(
              matrix: table.buffer, rowIndices: rows.buffer, vector: vector.buffer, dim: dim, output: output.mutable,
              features: features, relu: relu)
          }
          assertClose(output.array, expected, tolerance: 1e-5, label)
          output.assertGuardsIntact(label)
          let baseline = Guarded(count: indices.count * dim)
          withExtendedLifetime((table, vector, values, weights, rows, fRows)) {
            recsys_gather_rows_add_baseline(
              table.buffer.baseAddress!, dim, rows.buffer.baseAddress!, indices.count, vector.buffer.baseAddress!,
              values.buffer.baseAddress!, fRows.buffer.baseAddress!, width, weights.buffer.baseAddress!, relu ? 1 : 0,
              baseline.mutable.baseAddress!)
          }
          assertClose(baseline.array, expected, tolerance: 1e-5, label + " baseline")
          baseline.assertGuardsIntact(label + " baseline")
        }
      }
    }
    // ReLU keeps NaN, as torch.relu; without it a NaN in the table passes through.
    let table = Guarded([.nan, -1, 2])
    let (first, zeros) = (GuardedIndices([0]), Guarded([0, 0, 0]))
    let output = Guarded(count: 3)
    withExtendedLifetime((table, first, zeros)) {
      Kernels.gatherRowsAdding(
        matrix: table.buffer, rowIndices: first.buffer, vector: zeros.buffer, dim: 3, output: output.mutable, relu: true)
    }
    XCTAssertTrue(output[0].isNaN)
    XCTAssertEqual(Array(output.array[1...]), [0, 2])
    // The same in the vector part (16 wide), where ReLU is a mask: NaN kept, -0 and negatives +0.
    var wide = [Float](repeating: 1, count: 16)
    (wide[0], wide[1], wide[2]) = (.nan, -1, -0.0)
    let wideTable = Guarded(wide)
    let wideZeros = Guarded([Float](repeating: 0, count: 16))
    let wideOutput = Guarded(count: 16)
    withExtendedLifetime((wideTable, first, wideZeros)) {
      Kernels.gatherRowsAdding(
        matrix: wideTable.buffer, rowIndices: first.buffer, vector: wideZeros.buffer, dim: 16, output: wideOutput.mutable,
        relu: true)
    }
    XCTAssertTrue(wideOutput[0].isNaN)
    XCTAssertEqual(wideOutput[1].bitPattern, Float(0).bitPattern)
    XCTAssertEqual(wideOutput[2].bitPattern, Float(0).bitPattern)
    XCTAssertEqual(Array(wideOutput.array[3...]), [Float](repeating: 1, count: 13))
  }
}

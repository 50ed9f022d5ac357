// gemm, gemv, linear, dot against plain triple loops (Double accumulation).

import COpenBLAS
import RecSysKernels
import XCTest

/// A `[rows x cols]` matrix with row stride `stride`: elements random, the gaps between rows NaN
/// (an input) or sentinels (an output, checked untouched).
func stridedMatrix(
  rows: Int, cols: Int, stride: Int, rng: inout SeededGenerator, gap: Float = Guarded.unwritten
) -> Guarded {
  let count = rows == 0 || cols == 0 ? 0 : (rows - 1) * stride + cols
  let m = Guarded(count: count, repeating: gap)
  for r in 0..<rows { for c in 0..<cols { m[r * stride + c] = Float.random(in: -1...1, using: &rng) } }
  return m
}

/// Checks an output `[rows x cols]` block with row stride `stride`: elements against `expected`
/// (row-major, packed), gaps between rows still the sentinel, guards intact.
func assertMatrix(
  _ m: Guarded, rows: Int, cols: Int, stride: Int, expected: [Double], _ label: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  var actual: [Float] = []
  for r in 0..<rows { for c in 0..<cols { actual.append(m[r * stride + c]) } }
  assertClose(actual, expected, label, file: file, line: line)
  for r in 0..<(cols == 0 ? 0 : max(0, rows - 1)) {
    for c in cols..<stride where m[r * stride + c].bitPattern != Guarded.sentinel.bitPattern {
      XCTFail("\(label): gap element (\(r), \(c)) written", file: file, line: line)
      return
    }
  }
  m.assertGuardsIntact(label, file: file, line: line)
}

final class BLASTests: XCTestCase {
  override class func setUp() { Kernels.useSingleThread() }

  /// setUp already made OpenBLAS single-threaded, so raise the count first: otherwise a
  /// useSingleThread() that did nothing would pass.
  func testUseSingleThreadIsIdempotent() throws {
    openblas_set_num_threads(2)
    defer { openblas_set_num_threads(1) }
    guard Kernels.blasThreadCount == 2 else { throw XCTSkip("OpenBLAS here runs at most one thread") }
    Kernels.useSingleThread()
    XCTAssertEqual(Kernels.blasThreadCount, 1)
    Kernels.useSingleThread()
    XCTAssertEqual(Kernels.blasThreadCount, 1)
  }

  func testGemm() {
    struct Case {
      var tA, tB: Bool
      var m, n, k: Int
      var alpha: Float = 1
      var beta: Float = 0
      var pad = 0
    }
    let cases: [Case] = [
      Case(tA: false, tB: false, m: 1, n: 1, k: 1),
      Case(tA: false, tB: true, m: 3, n: 5, k: 7),
      Case(tA: true, tB: false, m: 4, n: 1, k: 9),
      Case(tA: true, tB: true, m: 2, n: 3, k: 1),
      Case(tA: false, tB: true, m: 0, n: 4, k: 3),
      Case(tA: false, tB: false, m: 5, n: 0, k: 3),
      Case(tA: false, tB: false, m: 3, n: 4, k: 0),
      Case(tA: false, tB: false, m: 3, n: 4, k: 0, beta: 0.5),
      Case(tA: false, tB: true, m: 17, n: 33, k: 65, alpha: 0.5, beta: 1.5, pad: 3),
      Case(tA: true, tB: true, m: 31, n: 7, k: 64, alpha: -2, pad: 1),
      Case(tA: true, tB: false, m: 9, n: 13, k: 11, beta: 1, pad: 2),
      Case(tA: false, tB: false, m: 64, n: 64, k: 64),
      Case(tA: false, tB: true, m: 100, n: 257, k: 96, pad: 5),
    ]
    var rng = SeededGenerator(seed: 1)
    for (n, t) in cases.enumerated() {
      let label = "gemm case \(n) \(t)"
      let (aRows, aCols) = t.tA ? (t.k, t.m) : (t.m, t.k)
      let (bRows, bCols) = t.tB ? (t.n, t.k) : (t.k, t.n)
      let lda = max(1, aCols) + t.pad
      let ldb = max(1, bCols) + t.pad
      let ldc = max(1, t.n) + t.pad
      let a = stridedMatrix(rows: aRows, cols: aCols, stride: lda, rng: &rng)
      let b = stridedMatrix(rows: bRows, cols: bCols, stride: ldb, rng: &rng)
      let c = stridedMatrix(rows: t.m, cols: t.n, stride: ldc, rng: &rng, gap: Guarded.sentinel)
      if t.beta == 0 { for r in 0..<t.m { for j in 0..<t.n { c[r * ldc + j] = .nan } } }  // must not be read
      let c0 = c.array

      var expected: [Double] = []
      for i in 0..<t.m {
        for j in 0..<t.n {
          var sum = 0.0
          for p in 0..<t.k {
            let av = t.tA ? a[p * lda + i] : a[i * lda + p]
            let bv = t.tB ? b[j * ldb + p] : b[p * ldb + j]
            sum += Double(av) * Double(bv)
          }
          let old = t.beta == 0 ? 0 : Double(t.beta) * Double(c0[i * ldc + j])
          expected.append(Double(t.alpha) * sum + old)
        }
      }
      Kernels.gemm(
        transposeA: t.tA, transposeB: t.tB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
        a: a.buffer, lda: lda, b: b.buffer, ldb: ldb, beta: t.beta, c: c.mutable, ldc: ldc)
      assertMatrix(c, rows: t.m, cols: t.n, stride: ldc, expected: expected, label)
      a.assertGuardsIntact(label)
      b.assertGuardsIntact(label)
    }
  }

  func testGemv() {
    struct Case {
      var rows, cols: Int
      var transposed = false
      var alpha: Float = 1
      var beta: Float = 0
      var pad = 0
    }
    let cases: [Case] = [
      Case(rows: 1, cols: 1),
      Case(rows: 7, cols: 3),
      Case(rows: 7, cols: 3, transposed: true),
      Case(rows: 0, cols: 5),
      Case(rows: 0, cols: 5, transposed: true),
      Case(rows: 4, cols: 0),
      Case(rows: 4, cols: 0, beta: 2),
      Case(rows: 33, cols: 17, alpha: 0.25, beta: -1, pad: 3),
      Case(rows: 33, cols: 17, transposed: true, alpha: 3, beta: 0.5, pad: 1),
      Case(rows: 1001, cols: 64),
      Case(rows: 256, cols: 64, transposed: true, beta: 1, pad: 64),
    ]
    var rng = SeededGenerator(seed: 2)
    for (n, t) in cases.enumerated() {
      let label = "gemv case \(n) \(t)"
      let stride = max(1, t.cols) + t.pad
      let matrix = stridedMatrix(rows: t.rows, cols: t.cols, stride: stride, rng: &rng)
      let inLength = t.transposed ? t.rows : t.cols
      let outLength = t.transposed ? t.cols : t.rows
      let vector = Guarded(rng.floats(inLength))
      let output = Guarded(t.beta == 0 ? [Float](repeating: .nan, count: outLength) : rng.floats(outLength))
      let y0 = output.array

      var expected: [Double] = []
      for o in 0..<outLength {
        var sum = 0.0
        for p in 0..<inLength {
          let mv = t.transposed ? matrix[p * stride + o] : matrix[o * stride + p]
          sum += Double(mv) * Double(vector[p])
        }
        expected.append(Double(t.alpha) * sum + (t.beta == 0 ? 0 : Double(t.beta) * Double(y0[o])))
      }
      Kernels.gemv(
        matrix: matrix.buffer, vector: vector.buffer, output: output.mutable,
        rows: t.rows, columns: t.cols, matrixStride: stride, transposed: t.transposed,
        alpha: t.alpha, beta: t.beta)
      assertClose(output.array, expected, label)
      output.assertGuardsIntact(label)
    }
  }

  func testLinear() {
    // weightWidth > inFeatures: the layer uses columns columnOffset ..< columnOffset + inFeatures of
    // a wider weight (a column block, as an MLP's first layer split by input part).
    struct Case {
      var rows, inFeatures, outFeatures: Int
      var bias = true, accumulate = false, relu = false
      var inputPad = 0, outputPad = 0
      var weightWidth: Int? = nil, columnOffset = 0
    }
    let cases: [Case] = [
      Case(rows: 1, inFeatures: 1, outFeatures: 1),
      Case(rows: 0, inFeatures: 4, outFeatures: 3),
      Case(rows: 3, inFeatures: 5, outFeatures: 7, bias: false),
      Case(rows: 1, inFeatures: 64, outFeatures: 1),
      Case(rows: 13, inFeatures: 33, outFeatures: 9, accumulate: true),
      Case(rows: 5, inFeatures: 16, outFeatures: 8, weightWidth: 40, columnOffset: 0),  // first 2d columns
      Case(rows: 5, inFeatures: 8, outFeatures: 8, weightWidth: 40, columnOffset: 16),  // a middle block
      Case(
        rows: 6, inFeatures: 8, outFeatures: 4, bias: true, accumulate: true, inputPad: 3, outputPad: 5,
        weightWidth: 20, columnOffset: 12),
      Case(rows: 100, inFeatures: 136, outFeatures: 64),
      // ReLU fused into the bias pass, with and without a bias, after accumulating.
      Case(rows: 9, inFeatures: 12, outFeatures: 10, relu: true),
      Case(rows: 9, inFeatures: 12, outFeatures: 10, bias: false, relu: true),
      Case(rows: 7, inFeatures: 6, outFeatures: 5, accumulate: true, relu: true, outputPad: 2),
      // One output with a packed output: the GEMV path (also after accumulating, on a strided input).
      Case(rows: 50, inFeatures: 64, outFeatures: 1),
      Case(rows: 11, inFeatures: 6, outFeatures: 1, accumulate: true, inputPad: 3, weightWidth: 15, columnOffset: 4),
      Case(rows: 4, inFeatures: 0, outFeatures: 1, inputPad: 1),  // k = 0: the bias alone
      Case(rows: 5, inFeatures: 3, outFeatures: 1, outputPad: 2),  // strided: the GEMM path
    ]
    var rng = SeededGenerator(seed: 3)
    for (n, t) in cases.enumerated() {
      let label = "linear case \(n) \(t)"
      let width = t.weightWidth ?? t.inFeatures
      let inputStride = t.inFeatures + t.inputPad
      let outputStride = t.outFeatures + t.outputPad
      let input = stridedMatrix(rows: t.rows, cols: t.inFeatures, stride: inputStride, rng: &rng)
      let weight = stridedMatrix(rows: t.outFeatures, cols: width, stride: width, rng: &rng)
      let bias = Guarded(rng.floats(t.outFeatures))
      let output = stridedMatrix(
        rows: t.rows, cols: t.outFeatures, stride: outputStride, rng: &rng, gap: Guarded.sentinel)
      if !t.accumulate {
        for r in 0..<t.rows { for o in 0..<t.outFeatures { output[r * outputStride + o] = .nan } }
      }
      let y0 = output.array

      var expected: [Double] = []
      for r in 0..<t.rows {
        for o in 0..<t.outFeatures {
          var sum = t.bias ? Double(bias[o]) : 0
          for c in 0..<t.inFeatures {
            sum += Double(input[r * inputStride + c]) * Double(weight[o * width + t.columnOffset + c])
          }
          if t.accumulate { sum += Double(y0[r * outputStride + o]) }
          expected.append(t.relu ? max(sum, 0) : sum)
        }
      }
      let weightBlock = UnsafeBufferPointer(rebasing: weight.buffer[t.columnOffset...])
      Kernels.linear(
        input: input.buffer, weight: weightBlock, bias: t.bias ? bias.buffer : nil,
        output: output.mutable, rows: t.rows, inFeatures: t.inFeatures, outFeatures: t.outFeatures,
        inputStride: inputStride, weightStride: width, outputStride: outputStride,
        accumulate: t.accumulate, relu: t.relu)
      assertMatrix(output, rows: t.rows, cols: t.outFeatures, stride: outputStride, expected: expected, label)
    }
  }

  func testLinearDefaultStrides() {
    var rng = SeededGenerator(seed: 4)
    let (rows, inF, outF) = (4, 6, 3)
    let input = Guarded(rng.floats(rows * inF))
    let weight = Guarded(rng.floats(outF * inF))
    let bias = Guarded(rng.floats(outF))
    let output = Guarded(count: rows * outF)
    var expected: [Double] = []
    for r in 0..<rows {
      for o in 0..<outF {
        var s = Double(bias[o])
        for c in 0..<inF { s += Double(input[r * inF + c]) * Double(weight[o * inF + c]) }
        expected.append(s)
      }
    }
    Kernels.linear(
      input: input.buffer, weight: weight.buffer, bias: bias.buffer, output: output.mutable,
      rows: rows, inFeatures: inF, outFeatures: outF)
    assertClose(output.array, expected, "linear default strides")
    output.assertGuardsIntact("linear default strides")
  }

  func testDot() {
    var rng = SeededGenerator(seed: 5)
    for count in [0, 1, 7, 64, 1000] {
      let a = Guarded(rng.floats(count))
      let b = Guarded(rng.floats(count))
      var expected = 0.0
      for i in 0..<count { expected += Double(a[i]) * Double(b[i]) }
      assertClose([Kernels.dot(a.buffer, b.buffer)], [expected], "dot \(count)")
    }
    let empty = UnsafeBufferPointer<Float>(start: nil, count: 0)
    XCTAssertEqual(Kernels.dot(empty, empty), 0)
  }
}

// exp, sigmoid, tanh, erf against float64 libm over dense ranges, odd lengths (the padded tail),
// special values, and position independence.

import Foundation
import RecSysKernels
import XCTest

final class TranscendentalTests: XCTestCase {
  typealias Kernel = (UnsafeMutableBufferPointer<Float>) -> Void

  static let cases: [(name: String, kernel: Kernel, reference: (Double) -> Double, range: ClosedRange<Float>, absolute: Double, relative: Double)] = [
    ("exp", Kernels.exp, { Foundation.exp($0) }, -87...88, 0, 3e-7),
    ("sigmoid", Kernels.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }, -30...30, 3e-7, 0),
    ("tanh", Kernels.tanh, { Foundation.tanh($0) }, -12...12, 3e-7, 0),
    ("erf", Kernels.erf, { Foundation.erf($0) }, -6...6, 5e-7, 0),
  ]

  func testDenseRanges() {
    for c in Self.cases {
      for range in [c.range, -0.1...0.1 as ClosedRange<Float>, -1e-4...1e-4 as ClosedRange<Float>] {
        let count = 100_003  // not a multiple of 8: the tail goes through the padded path
        let step = (range.upperBound - range.lowerBound) / Float(count - 1)
        let x = Guarded((0..<count).map { range.lowerBound + Float($0) * step })
        let inputs = x.array
        c.kernel(x.mutable)
        x.assertGuardsIntact(c.name)
        var worst = 0.0
        for (input, output) in zip(inputs, x.array) {
          let expected = c.reference(Double(input))
          let error = abs(Double(output) - expected)
          let allowed = max(c.absolute, c.relative * abs(expected))
          worst = max(worst, error / allowed)
          if error > allowed {
            XCTFail("\(c.name)(\(input)) = \(output), expected \(expected) (error \(error) > \(allowed))")
            break
          }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(c.name) over \(range)")
      }
    }
  }

  func testTanhAndErfKeepSmallValuesRelativelyExact() {
    // Near 0 tanh(x) ~ x and erf(x) ~ 2x/sqrt(pi): a cancelling formula would return 0 or noise.
    for v: Float in [1e-3, -1e-5, 3e-8, 0.015] {
      let t = Guarded([v])
      Kernels.tanh(t.mutable)
      XCTAssertEqual(Double(t[0]), Foundation.tanh(Double(v)), accuracy: abs(Double(v)) * 1e-6, "tanh(\(v))")
      let e = Guarded([v])
      Kernels.erf(e.mutable)
      XCTAssertEqual(Double(e[0]), Foundation.erf(Double(v)), accuracy: abs(Double(v)) * 1e-6, "erf(\(v))")
    }
  }

  func testSpecialValues() {
    let inputs: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 100, -100]
    let expected: [String: [Float]] = [
      "exp": [.nan, 1.6516363e38, 0, 1, 1, 1.6516363e38, 0],
      "sigmoid": [.nan, 1, 0, 0.5, 0.5, 1, 0],
      "tanh": [.nan, 1, -1, 0, -0.0, 1, -1],
      "erf": [.nan, 1, -1, 0, -0.0, 1, -1],
    ]
    for c in Self.cases {
      let x = Guarded(inputs)
      c.kernel(x.mutable)
      for (index, want) in expected[c.name]!.enumerated() {
        if want.isNaN {
          XCTAssertTrue(x[index].isNaN, "\(c.name)(\(inputs[index])) keeps NaN")
        } else {
          XCTAssertEqual(x[index], want, accuracy: abs(want) * 1e-6 + 1e-30, "\(c.name)(\(inputs[index]))")
        }
      }
    }
  }

  func testSameValueSameResultAtAnyPosition() {
    // A value in the body of a buffer and in its tail gives bit-identical results.
    var rng = SeededGenerator(seed: 77)
    let values = rng.floats(21, in: -5...5)
    for c in Self.cases {
      let whole = Guarded(values)
      c.kernel(whole.mutable)
      for index in values.indices {
        let single = Guarded([values[index]])
        c.kernel(single.mutable)
        XCTAssertEqual(single[0].bitPattern, whole[index].bitPattern, "\(c.name) at \(index)")
      }
    }
  }
}

// recsys_first_above (the top-k kernels' jump to the next score above their threshold): the
// dispatched variant and the baseline (SSE2) one against a plain scan, on lengths around its
// 64-score step, hits in the vector part and the tail, NaN values and a NaN threshold.

import CRecSysMath
import XCTest

final class ThresholdTests: XCTestCase {
  func testFirstAboveMatchesPlainScan() {
    var rng = SeededGenerator(seed: 70)
    for count in [0, 1, 15, 16, 63, 64, 65, 127, 128, 200, 4096] {
      var values = rng.floats(count, in: -1...1)
      for i in stride(from: 3, to: count, by: 17) { values[i] = .nan }
      for threshold: Float in [-2, 0, 0.9, 0.999, 2, .nan, -.infinity] {
        for start in Set([0, count / 3, max(0, count - 5)]) where start <= count {
          let expected = values[start...].firstIndex { $0 > threshold }.map { $0 - start } ?? (count - start)
          values.withUnsafeBufferPointer { v in
            let base = v.baseAddress.map { $0 + start } ?? UnsafePointer(bitPattern: 4)!
            let label = "count \(count) start \(start) threshold \(threshold)"
            XCTAssertEqual(recsys_first_above(base, count - start, threshold), expected, label)
            XCTAssertEqual(recsys_first_above_baseline(base, count - start, threshold), expected, label + " baseline")
          }
        }
      }
      // One hit at every position in turn, the rest below.
      if count > 0 && count <= 200 {
        for hit in 0..<count {
          var row = [Float](repeating: 0, count: count)
          row[hit] = 1
          row.withUnsafeBufferPointer { v in
            XCTAssertEqual(recsys_first_above(v.baseAddress!, count, 0.5), hit, "count \(count) hit \(hit)")
            XCTAssertEqual(recsys_first_above_baseline(v.baseAddress!, count, 0.5), hit, "baseline count \(count) hit \(hit)")
          }
        }
      }
    }
  }
}

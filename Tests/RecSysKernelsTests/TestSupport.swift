// Shared test helpers: seeded random numbers, buffers with guard values around them, comparisons.
//
// Every buffer a kernel sees in these tests is a `Guarded` buffer: `guardCount` sentinel NaNs sit
// just before and just after the usable region. After each call the tests check the sentinels are
// bit-for-bit untouched (a write past the end) and, because inputs are guarded too, a read past the
// end of an input shows up as a NaN in the output.

import Foundation
import XCTest

/// SplitMix64: small, deterministic, good enough for test data.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

extension SeededGenerator {
  mutating func floats(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
    (0..<count).map { _ in Float.random(in: range, using: &self) }
  }
}

/// A float buffer with sentinel NaNs on both sides of `count` usable elements.
final class Guarded {
  static let guardCount = 8
  /// A quiet NaN with a payload no arithmetic produces.
  static let sentinel = Float(bitPattern: 0x7FC0_BEEF)
  /// What "not yet written" output elements hold: another NaN, so an element a kernel forgets to
  /// write fails the comparison.
  static let unwritten = Float(bitPattern: 0x7FC0_0DD0)

  let count: Int
  private let storage: UnsafeMutablePointer<Float>

  init(count: Int, repeating value: Float = Guarded.unwritten) {
    self.count = count
    storage = .allocate(capacity: count + 2 * Guarded.guardCount)
    storage.initialize(repeating: Guarded.sentinel, count: count + 2 * Guarded.guardCount)
    (storage + Guarded.guardCount).update(repeating: value, count: count)
  }

  convenience init(_ values: [Float]) {
    self.init(count: values.count)
    for (i, v) in values.enumerated() { self[i] = v }
  }

  deinit { storage.deallocate() }

  var mutable: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: storage + Guarded.guardCount, count: count)
  }
  var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(mutable) }
  var array: [Float] { Array(buffer) }

  subscript(i: Int) -> Float {
    get { storage[Guarded.guardCount + i] }
    set { storage[Guarded.guardCount + i] = newValue }
  }

  func assertGuardsIntact(
    _ label: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line
  ) {
    for i in 0..<Guarded.guardCount {
      let before = storage[i].bitPattern
      let after = storage[Guarded.guardCount + count + i].bitPattern
      if before != Guarded.sentinel.bitPattern || after != Guarded.sentinel.bitPattern {
        XCTFail("\(label()): guard value overwritten (\(i) before/after)", file: file, line: line)
        return
      }
    }
  }
}

/// An Int32 buffer with sentinels on both sides.
final class GuardedIndices {
  static let guardCount = 8
  static let sentinel: Int32 = -0x5EED
  let count: Int
  private let storage: UnsafeMutablePointer<Int32>

  init(count: Int) {
    self.count = count
    storage = .allocate(capacity: count + 2 * GuardedIndices.guardCount)
    storage.initialize(repeating: GuardedIndices.sentinel, count: count + 2 * GuardedIndices.guardCount)
  }
  convenience init(_ values: [Int32]) {
    self.init(count: values.count)
    for (i, v) in values.enumerated() { storage[GuardedIndices.guardCount + i] = v }
  }
  deinit { storage.deallocate() }

  var mutable: UnsafeMutableBufferPointer<Int32> {
    UnsafeMutableBufferPointer(start: storage + GuardedIndices.guardCount, count: count)
  }
  var buffer: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(mutable) }

  func assertGuardsIntact(
    _ label: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line
  ) {
    for i in 0..<GuardedIndices.guardCount
    where storage[i] != GuardedIndices.sentinel
      || storage[GuardedIndices.guardCount + count + i] != GuardedIndices.sentinel
    {
      XCTFail("\(label()): index guard overwritten", file: file, line: line)
      return
    }
  }
}

/// `|actual - expected| <= tolerance * max(1, |expected|)` element-wise (absolute for values up to
/// 1, relative for larger sums). NaN only matches NaN.
func assertClose(
  _ actual: [Float], _ expected: [Double], tolerance: Double = 1e-4, _ label: @autoclosure () -> String,
  file: StaticString = #filePath, line: UInt = #line
) {
  guard actual.count == expected.count else {
    XCTFail("\(label()): count \(actual.count) != \(expected.count)", file: file, line: line)
    return
  }
  for i in actual.indices {
    let a = Double(actual[i])
    let e = expected[i]
    if e.isNaN && a.isNaN { continue }
    if e.isInfinite && a == e { continue }
    if !(abs(a - e) <= tolerance * max(1, abs(e))) {
      XCTFail("\(label()): element \(i): got \(a), expected \(e)", file: file, line: line)
      return
    }
  }
}

func assertClose(
  _ actual: [Float], _ expected: [Float], tolerance: Double = 1e-4, _ label: @autoclosure () -> String,
  file: StaticString = #filePath, line: UInt = #line
) {
  assertClose(actual, expected.map(Double.init), tolerance: tolerance, label(), file: file, line: line)
}

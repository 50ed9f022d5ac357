// ItemRowTable against a Dictionary: every id finds its row, absent ids find nothing, repeated ids
// are refused, and clustered or adversarial-looking id patterns still work.

import PluginAPI
import XCTest

final class ItemRowTableTests: XCTestCase {
  func check(_ ids: [Int64], absent: [Int64], _ message: String) throws {
    let table = try ids.withUnsafeBufferPointer { try ItemRowTable(itemIDs: $0) }
    for (row, id) in ids.enumerated() {
      XCTAssertEqual(table.row(of: id), Int32(row), "\(message): id \(id)")
    }
    let present = Set(ids)
    for id in absent where !present.contains(id) {
      XCTAssertNil(table.row(of: id), "\(message): absent id \(id)")
    }
    // At most 80 % full, 16 bytes a bucket.
    XCTAssertGreaterThanOrEqual(table.byteCount, ids.count * 16 * 5 / 4, message)
  }

  func testShapesOfIDs() throws {
    var rng = SystemRandomNumberGenerator()
    let random = (0..<50_000).map { _ in Int64.random(in: .min ... .max, using: &rng) }
    try check(random, absent: (0..<1000).map { _ in Int64.random(in: .min ... .max, using: &rng) }, "random")
    try check(Array(100_000..<150_000), absent: Array(0..<100_000).filter { $0 % 97 == 0 } + [150_000, -1], "sequential")
    // Multiples of a large power of two: the low bits are all zero, the mix must use the high ones.
    try check((0..<20_000).map { Int64($0) << 32 }, absent: [1, 1 << 31, 20_000 << 32], "strided")
    try check([Int64.min, Int64.max, 0, -1], absent: [1, -2, Int64.min + 1], "extremes")
    try check([], absent: [0, 1, -1], "empty")
    try check([7], absent: [0, 8], "one")
    // Sizes around the growth thresholds.
    for count in [3, 4, 5, 12, 13, 409, 410, 411] {
      try check((0..<count).map { Int64($0 * 31) }, absent: [-5, Int64(count * 31)], "count \(count)")
    }
  }

  func testRefusesRepeatedIDs() {
    let ids: [Int64] = [5, 9, 12, 9]
    XCTAssertThrowsError(try ids.withUnsafeBufferPointer { try ItemRowTable(itemIDs: $0) }) { error in
      XCTAssertTrue("\(error)".contains("item 9 twice (rows 1 and 3)"), "\(error)")
    }
  }

  func testConcurrentLookups() throws {
    let ids = (0..<10_000).map { Int64($0) * 7919 }
    let table = try ids.withUnsafeBufferPointer { try ItemRowTable(itemIDs: $0) }
    DispatchQueue.concurrentPerform(iterations: 4) { thread in
      for (row, id) in ids.enumerated() where row % 4 == thread {
        XCTAssertEqual(table.row(of: id), Int32(row))
      }
    }
  }
}

// ItemRowTable against a Dictionary: every id finds its row, absent ids find nothing, repeated ids
// are refused, and clustered or adversarial-looking id patterns still work.

import PluginAPI
import XCTest

final class ItemRowTableTests: XCTestCase {
  /// The table reads the ids it was built from (as a model's mapped item_ids), so they live in
  /// memory of their own here, freed after the table.
  func withTable(_ ids: [Int64], fingerprints: Bool = true, _ body: (ItemRowTable) throws -> Void) throws {
    let stored = UnsafeMutableBufferPointer<Int64>.allocate(capacity: max(ids.count, 1))
    defer { stored.deallocate() }
    _ = stored.initialize(from: ids)
    try body(try ItemRowTable(itemIDs: UnsafeBufferPointer(rebasing: stored[0..<ids.count]), fingerprints: fingerprints))
  }

  func check(_ ids: [Int64], absent: [Int64], _ message: String) throws {
    for fingerprints in [true, false] {
      try withTable(ids, fingerprints: fingerprints) { table in
        for (row, id) in ids.enumerated() {
          XCTAssertEqual(table.row(of: id), Int32(row), "\(message), fingerprints \(fingerprints): id \(id)")
        }
        let present = Set(ids)
        for id in absent where !present.contains(id) {
          XCTAssertNil(table.row(of: id), "\(message), fingerprints \(fingerprints): absent id \(id)")
        }
        // At most 80 % full, 4 bytes a bucket, and no more than twice that.
        XCTAssertGreaterThanOrEqual(table.byteCount, ids.count * 4 * 5 / 4, message)
        XCTAssertLessThanOrEqual(table.byteCount, max(ids.count * 4 * 5 / 2, 8), message)
      }
    }
  }

  /// Ids whose hashes share a bucket and a fingerprint: only the comparison with item_ids tells
  /// them apart.
  func testIDsWithTheSameBucketAndFingerprint() throws {
    var ids: [Int64] = []
    var candidate: Int64 = 1
    let target = (UInt64(1) &* 0x9E37_79B9_7F4A_7C15)
    while ids.count < 6 {
      let hash = UInt64(bitPattern: candidate) &* 0x9E37_79B9_7F4A_7C15
      // 8 items -> 16 buckets (top 4 bits); fingerprint = bits 24...31.
      if hash >> 60 == target >> 60 && (hash >> 24) & 0xFF == (target >> 24) & 0xFF { ids.append(candidate) }
      candidate += 1
    }
    ids += [-7, -8]
    try check(ids, absent: [0, 2, 3, candidate], "same bucket and fingerprint")
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
    XCTAssertThrowsError(try withTable([5, 9, 12, 9]) { _ in }) { error in
      XCTAssertTrue("\(error)".contains("item 9 twice (rows 1 and 3)"), "\(error)")
    }
  }

  func testConcurrentLookups() throws {
    let ids = (0..<10_000).map { Int64($0) * 7919 }
    try withTable(ids) { table in
      DispatchQueue.concurrentPerform(iterations: 4) { thread in
        for (row, id) in ids.enumerated() where row % 4 == thread {
          XCTAssertEqual(table.row(of: id), Int32(row))
        }
      }
    }
  }
}

/// External item id → catalog row: an open-addressing hash table with linear probing, built once
/// at load and only read afterwards (so any number of threads may look up at once).
///
/// Why not `Dictionary<Int64, Int32>`: every request looks up each history item and candidate
/// (550 lookups for a 500-candidate request), and SipHash plus Dictionary's probing were ~8 % of
/// an mlp or dqn request (perf; 16 % of an lstm_500 request's instructions, callgrind). Ids are the
/// model's own (trusted at load), so a multiplicative mix suffices: `id × 2^64/φ`, top bits.
///
/// Layout: one 4-byte slot per bucket, holding row + 1 (0 marks an empty slot) and, for catalogs
/// under 2^24 rows, an 8-bit fingerprint of the id's hash in the top byte. A hit confirms the id
/// against the catalog's own `item_ids` (which the table does not copy, so they must outlive it);
/// the fingerprint spares that read for almost every other slot a probe passes. A power-of-two
/// bucket count at most 80 % full: 4 bytes × 1.25-2.5 per item (a 50 000-item catalog: 256 KiB;
/// the earlier 16-byte slots holding a copy of the id took 1 MiB, 7 % of such a version's memory).
public final class ItemRowTable: @unchecked Sendable {
  private let slots: UnsafeMutableBufferPointer<UInt32>
  private let itemIDs: UnsafeBufferPointer<Int64>
  private let shift: UInt64  // 64 - log2(bucket count)
  private let mask: Int
  private let fingerprintMask: UInt32  // the slot bits that hold the fingerprint (0: none)

  /// Builds the table for `itemIDs[row]`, row by row; throws on a repeated id. `itemIDs` must stay
  /// valid while the table lives (a model's mapped weights do). `fingerprints: false` turns the
  /// fingerprint off, as catalogs of 2^24 rows or more have it (for tests of that path).
  public init(itemIDs: UnsafeBufferPointer<Int64>, fingerprints: Bool = true) throws {
    guard itemIDs.count < Int(Int32.max) else { throw ModelError.invalidArgument("item_ids has too many rows") }
    var bits = 1
    while (1 << bits) * 4 < itemIDs.count * 5 { bits += 1 }  // count <= 0.8 buckets
    let buckets = 1 << bits
    let fingerprintMask: UInt32 = fingerprints && itemIDs.count < (1 << 24) - 1 ? 0xFF00_0000 : 0
    let slots = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: buckets)
    slots.initialize(repeating: 0)
    let shift = UInt64(64 - bits)
    for (row, id) in itemIDs.enumerated() {
      let hash = Self.hash(id)
      var index = Int(truncatingIfNeeded: hash >> shift)
      while slots[index] != 0 {
        let earlier = Int(slots[index] & ~fingerprintMask) - 1
        if itemIDs[earlier] == id {
          slots.deallocate()
          throw ModelError.invalidArgument(
            "item_ids holds item \(id) twice (rows \(earlier) and \(row)); ids must be unique")
        }
        index = (index + 1) & (buckets - 1)
      }
      slots[index] = (UInt32(truncatingIfNeeded: hash) & fingerprintMask) | UInt32(row + 1)
    }
    self.slots = slots
    self.itemIDs = itemIDs
    self.shift = shift
    self.fingerprintMask = fingerprintMask
    mask = buckets - 1
  }

  deinit { slots.deallocate() }

  /// Bytes the table holds (reported next to the weights in the benchmarks' memory table).
  public var byteCount: Int { slots.count * MemoryLayout<UInt32>.stride }

  /// The row of `itemID`, or nil when the catalog does not hold it.
  @inline(__always)
  public func row(of itemID: Int64) -> Int32? {
    let hash = Self.hash(itemID)
    let fingerprint = UInt32(truncatingIfNeeded: hash) & fingerprintMask
    var index = Int(truncatingIfNeeded: hash >> shift)
    while true {
      let slot = slots[index]
      if slot == 0 { return nil }
      if slot & fingerprintMask == fingerprint {
        let row = Int(slot & ~fingerprintMask) &- 1
        if itemIDs[row] == itemID { return Int32(truncatingIfNeeded: row) }
      }
      index = (index &+ 1) & mask
    }
  }

  @inline(__always)
  private static func hash(_ itemID: Int64) -> UInt64 {
    UInt64(bitPattern: itemID) &* 0x9E37_79B9_7F4A_7C15
  }
}

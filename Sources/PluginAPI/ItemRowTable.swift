/// External item id → catalog row: an open-addressing hash table with linear probing, built once
/// at load and only read afterwards (so any number of threads may look up at once).
///
/// Why not `Dictionary<Int64, Int32>`: every request looks up each history item and candidate
/// (550 lookups for a 500-candidate request), and SipHash plus Dictionary's probing were ~8 % of
/// an mlp or dqn request (perf; 16 % of an lstm_500 request's instructions, callgrind). Ids are the
/// model's own (trusted at load), so a multiplicative mix suffices: `id × 2^64/φ`, top bits.
///
/// Layout: one 16-byte slot per bucket (id, row, padding), so a hit usually costs one cache line;
/// a power-of-two bucket count at most 80 % full; row -1 marks an empty slot. About 16 bytes ×
/// 1.25-2.5 per item (a 50 000-item catalog: 1 MiB).
public final class ItemRowTable: @unchecked Sendable {
  struct Slot {
    var itemID: Int64
    var row: Int32
  }

  private let slots: UnsafeMutableBufferPointer<Slot>
  private let shift: UInt64  // 64 - log2(bucket count)
  private let mask: Int

  /// Builds the table for `itemIDs[row]`, row by row; throws on a repeated id.
  public init(itemIDs: UnsafeBufferPointer<Int64>) throws {
    guard itemIDs.count < Int(Int32.max) else { throw ModelError.invalidArgument("item_ids has too many rows") }
    var bits = 1
    while (1 << bits) * 4 < itemIDs.count * 5 { bits += 1 }  // count <= 0.8 buckets
    let buckets = 1 << bits
    let slots = UnsafeMutableBufferPointer<Slot>.allocate(capacity: buckets)
    slots.initialize(repeating: Slot(itemID: 0, row: -1))
    let shift = UInt64(64 - bits)
    for (row, id) in itemIDs.enumerated() {
      var index = Self.bucket(of: id, shift: shift)
      while slots[index].row >= 0 {
        if slots[index].itemID == id {
          let earlier = slots[index].row
          slots.deallocate()
          throw ModelError.invalidArgument(
            "item_ids holds item \(id) twice (rows \(earlier) and \(row)); ids must be unique")
        }
        index = (index + 1) & (buckets - 1)
      }
      slots[index] = Slot(itemID: id, row: Int32(row))
    }
    self.slots = slots
    self.shift = shift
    mask = buckets - 1
  }

  deinit { slots.deallocate() }

  /// Bytes the table holds (reported next to the weights in the benchmarks' memory table).
  public var byteCount: Int { slots.count * MemoryLayout<Slot>.stride }

  /// The row of `itemID`, or nil when the catalog does not hold it.
  @inline(__always)
  public func row(of itemID: Int64) -> Int32? {
    var index = Self.bucket(of: itemID, shift: shift)
    while true {
      let slot = slots[index]
      if slot.row < 0 { return nil }
      if slot.itemID == itemID { return slot.row }
      index = (index + 1) & mask
    }
  }

  @inline(__always)
  private static func bucket(of itemID: Int64, shift: UInt64) -> Int {
    Int(truncatingIfNeeded: (UInt64(bitPattern: itemID) &* 0x9E37_79B9_7F4A_7C15) >> shift)
  }
}

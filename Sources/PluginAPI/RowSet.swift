// The history's catalog rows as a hash set in caller memory (ExclusionSet's per-request part).

/// A set of catalog rows in caller memory: open addressing with linear probing over a power-of-two
/// table at most half full, so a lookup is O(1) on average and building one allocates nothing.
public struct RowSet {
  private let slots: UnsafeMutableBufferPointer<Int32>  // -1: empty
  private let shift: UInt32

  /// Table slots for up to `count` rows: a power of two >= 2 * count (at least 8).
  public static func slotCount(for count: Int) -> Int {
    let wanted = max(8, 2 * count)
    return 1 << (Int.bitWidth - (wanted - 1).leadingZeroBitCount)
  }

  /// Fills `slots` (a power of two, at least `slotCount(for: rows.count)`) with `rows` (all >= 0).
  public init(slots: UnsafeMutableBufferPointer<Int32>, rows: UnsafeBufferPointer<Int32>) {
    precondition(slots.count >= Self.slotCount(for: rows.count) && slots.count.nonzeroBitCount == 1,
                 "RowSet: table too small or not a power of two")
    self.slots = slots
    shift = UInt32(32 - slots.count.trailingZeroBitCount)
    slots.update(repeating: -1)
    for row in rows {
      var index = home(row)
      while slots[index] != -1 && slots[index] != row { index = (index + 1) & (slots.count - 1) }
      slots[index] = row
    }
  }

  @inline(__always)
  public func contains(_ row: Int32) -> Bool {
    var index = home(row)
    while slots[index] != -1 {
      if slots[index] == row { return true }
      index = (index + 1) & (slots.count - 1)
    }
    return false
  }

  /// Fibonacci hashing: the top bits of row * 2^32 / golden ratio.
  @inline(__always)
  private func home(_ row: Int32) -> Int {
    Int((UInt32(bitPattern: row) &* 0x9E37_79B9) >> shift)
  }
}

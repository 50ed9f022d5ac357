import Experiments

/// The candidate list must name each item once: a repeated id would come back several times in
/// the top-k, and a client that sends one has a bug worth hearing about. Refused rather than
/// silently de-duplicated, so the reply's positions always match the request's.
enum CandidateIDs {
  /// Throws INVALID_ARGUMENT naming the first repeat and where the id first appeared. One
  /// open-addressing table of candidate positions per request; nothing per candidate.
  static func requireDistinct(_ ids: UnsafePointer<Int64>?, count: Int) throws {
    guard let ids, count > 1 else { return }
    var slotCount = 16
    while slotCount < 2 * count { slotCount <<= 1 }
    let mask = slotCount - 1
    try withUnsafeTemporaryAllocation(of: Int32.self, capacity: slotCount) { slots in
      slots.initialize(repeating: -1)
      for position in 0..<count {
        let id = ids[position]
        // Mixed: item ids are often sequential, and their low bits alone would cluster.
        var slot = Int(truncatingIfNeeded: Bucketing.mix64(UInt64(bitPattern: id))) & mask
        while true {
          let taken = Int(slots[slot])
          if taken < 0 {
            slots[slot] = Int32(position)
            break
          }
          if ids[taken] == id {
            throw ServiceError.invalidArgument(
              "candidate_item_ids[\(position)] is \(id), which already appears at candidate_item_ids[\(taken)]; "
                + "send each candidate once")
          }
          slot = (slot + 1) & mask
        }
      }
    }
  }
}

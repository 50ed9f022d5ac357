/// Which history events a reply names as an item's reasons ("because you viewed X"), from the
/// plugin's occlusion contributions.
public enum BecauseSelection {
  /// At most this many events per item.
  public static let limit = 3

  /// The request history positions of the events that pushed the item up the most: the largest
  /// strictly positive contributions, largest first, ties to the more recent event (the higher
  /// position). Events that pushed it down (negative) or did not matter (0) are never reasons;
  /// NaN marks an event the model did not use.
  public static func top(_ contributions: UnsafeBufferPointer<Float>) -> [Int] {
    var picked: [Int] = []
    picked.reserveCapacity(limit)
    for position in contributions.indices.reversed() {
      let value = contributions[position]
      guard value > 0 else { continue }  // also skips NaN
      // Insert after every pick that is at least as large (earlier-scanned = more recent wins ties).
      let slot = picked.firstIndex { contributions[$0] < value } ?? picked.count
      if slot < limit {
        picked.insert(position, at: slot)
        if picked.count > limit { picked.removeLast() }
      }
    }
    return picked
  }
}

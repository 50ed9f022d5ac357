import CRecSysPlugin

/// The items one request must not get back — the one eligibility filter every kind and every
/// retrieval mode consults:
/// - with `exclude_history`, every item anywhere in the request's history (also events older
///   than the model's max_history);
/// - the request's `exclude_item_ids` and the named server-side item sets it asks for, which the
///   host hands over as sorted id lists (`Request.excludedSets`).
///
/// A row is tested only when its score would enter a top-k (or top-R) heap, so the cost is one
/// hash probe plus one binary search per set for a few hundred rows per call, whatever the
/// catalog or set sizes. Building it costs O(history): one allocation per request, none per
/// candidate.
public final class ExclusionSet: @unchecked Sendable {
  private let historySlots: UnsafeMutableBufferPointer<Int32>
  private let history: RowSet?
  private let itemSets: UnsafeBufferPointer<recsys_item_set>
  private let itemIDs: UnsafeBufferPointer<Int64>
  /// True when nothing is excluded: callers skip the tests altogether.
  public let isEmpty: Bool

  public init(_ request: Request, catalog: Catalog) {
    itemIDs = catalog.itemIDs
    itemSets = request.excludedSets
    if request.excludeHistory && !request.historyItemIDs.isEmpty {
      var rows: [Int32] = []
      rows.reserveCapacity(request.historyItemIDs.count)
      for id in request.historyItemIDs {
        if let row = catalog.row(of: id) { rows.append(row) }
      }
      let slots = UnsafeMutableBufferPointer<Int32>.allocate(capacity: RowSet.slotCount(for: rows.count))
      historySlots = slots
      history = rows.withUnsafeBufferPointer { RowSet(slots: slots, rows: $0) }
      isEmpty = rows.isEmpty && itemSets.allSatisfy { $0.count == 0 }
    } else {
      historySlots = .allocate(capacity: 0)
      history = nil
      isEmpty = itemSets.allSatisfy { $0.count == 0 }
    }
  }

  /// Excludes nothing (for a second ranking over rows already filtered).
  public static let none = ExclusionSet()

  private init() {
    historySlots = .allocate(capacity: 0)
    history = nil
    itemSets = UnsafeBufferPointer(start: nil, count: 0)
    itemIDs = UnsafeBufferPointer(start: nil, count: 0)
    isEmpty = true
  }

  deinit { historySlots.deallocate() }

  /// True when catalog row `row` must not be returned.
  @inline(__always)
  public func excludes(row: Int32) -> Bool {
    if isEmpty { return false }
    if let history, history.contains(row) { return true }
    if itemSets.isEmpty { return false }
    let id = itemIDs[Int(row)]
    for set in itemSets where Self.contains(set, id) { return true }
    return false
  }

  /// Writes the positions `j` whose `rows[j]` is excluded into `positions` and returns how many
  /// (for kernels that take an index list, like the epsilon-greedy slate).
  public func excludedPositions(
    rows: UnsafeBufferPointer<Int32>, into positions: UnsafeMutableBufferPointer<Int32>
  ) -> Int {
    precondition(positions.count >= rows.count, "excludedPositions: positions too small")
    if isEmpty { return 0 }
    var count = 0
    for (position, row) in rows.enumerated() where excludes(row: row) {
      positions[count] = Int32(truncatingIfNeeded: position)
      count += 1
    }
    return count
  }

  /// Binary search in a sorted id list.
  @inline(__always)
  private static func contains(_ set: recsys_item_set, _ id: Int64) -> Bool {
    guard let ids = set.item_ids else { return false }
    var low = 0
    var high = set.count
    while low < high {
      let middle = (low + high) >> 1
      if ids[middle] < id { low = middle + 1 } else { high = middle }
    }
    return low < set.count && ids[low] == id
  }
}

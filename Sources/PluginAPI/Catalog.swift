/// Maps external item ids (arbitrary int64 SKUs) to embedding rows, and turns a
/// request's history and candidates into rows, as models.md specifies for all kinds.
public struct Catalog {
  public let itemIDs: UnsafeBufferPointer<Int64>
  private let rowByItemID: ItemRowTable

  public init(itemIDs: UnsafeBufferPointer<Int64>) throws {
    self.itemIDs = itemIDs
    rowByItemID = try ItemRowTable(itemIDs: itemIDs)
  }

  public var count: Int { itemIDs.count }

  @inline(__always)
  public func row(of itemID: Int64) -> Int32? { rowByItemID.row(of: itemID) }

  /// The rows of the history's known items, oldest first, keeping only the last `maxLength`.
  public func historyRows(_ request: Request, maxLength: Int) -> [Int32] {
    var rows: [Int32] = []
    rows.reserveCapacity(min(request.historyItemIDs.count, maxLength))
    for position in request.historyItemIDs.indices.reversed() where rows.count < maxLength {
      if let row = rowByItemID.row(of: request.historyItemIDs[position]) { rows.append(row) }
    }
    rows.reverse()
    return rows
  }

  /// Like `historyRows`, also returning each kept event's type.
  public func historyEvents(_ request: Request, maxLength: Int) -> (rows: [Int32], types: [Int32]) {
    var rows: [Int32] = []
    var types: [Int32] = []
    for position in request.historyItemIDs.indices.reversed() where rows.count < maxLength {
      if let row = rowByItemID.row(of: request.historyItemIDs[position]) {
        rows.append(row)
        types.append(request.historyTypes[position])
      }
    }
    return (rows.reversed(), types.reversed())
  }

  /// The known candidates: their catalog rows and their positions in the request.
  /// Unknown candidates go to `result`'s unknown list.
  public func candidates(_ request: Request, reportingUnknownTo result: inout Recommendations)
    -> (rows: [Int32], positions: [Int32])
  {
    var rows: [Int32] = []
    var positions: [Int32] = []
    rows.reserveCapacity(request.candidateItemIDs.count)
    positions.reserveCapacity(request.candidateItemIDs.count)
    for (position, id) in request.candidateItemIDs.enumerated() {
      if let row = rowByItemID.row(of: id) {
        rows.append(row)
        positions.append(Int32(position))
      } else {
        result.appendUnknown(id)
      }
    }
    return (rows, positions)
  }

  /// Like `candidates`, into caller memory: writes the known candidates' rows, in request order, to
  /// `rows` (room for every candidate) and returns how many.
  public func candidateRows(
    _ request: Request, into rows: UnsafeMutableBufferPointer<Int32>, reportingUnknownTo result: inout Recommendations
  ) -> Int {
    precondition(rows.count >= request.candidateItemIDs.count, "candidateRows: rows too small")
    var known = 0
    for id in request.candidateItemIDs {
      if let row = rowByItemID.row(of: id) {
        rows[known] = row
        known += 1
      } else {
        result.appendUnknown(id)
      }
    }
    return known
  }

  /// Like `historyRows`, into caller memory (room for `min(history count, maxLength)` rows):
  /// returns the filled part, oldest first.
  public func historyRows(
    _ request: Request, maxLength: Int, into rows: UnsafeMutableBufferPointer<Int32>
  ) -> UnsafeBufferPointer<Int32> {
    let room = min(request.historyItemIDs.count, maxLength)
    precondition(rows.count >= room, "historyRows: rows too small")
    var start = room
    for id in request.historyItemIDs.reversed() where start > 0 {
      if let row = rowByItemID.row(of: id) {
        start -= 1
        rows[start] = row
      }
    }
    return UnsafeBufferPointer(rebasing: rows[start..<room])
  }
}

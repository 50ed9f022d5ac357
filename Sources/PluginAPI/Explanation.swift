import CRecSysPlugin

/// Writes a model's explanations into the host's buffers (recsys_explanation); valid only during
/// `explain`. Positions are positions in the request's history, as the caller sent it.
public struct Explanation {
  private let raw: UnsafeMutablePointer<recsys_explanation>
  private let historyCount: Int

  public init(_ raw: UnsafeMutablePointer<recsys_explanation>, historyCount: Int) {
    self.raw = raw
    self.historyCount = historyCount
  }

  /// The items to explain: what `recommend` returned for the same request, best first.
  public var itemIDs: UnsafeBufferPointer<Int64> {
    UnsafeBufferPointer(start: raw.pointee.item_ids, count: raw.pointee.item_count)
  }

  /// score(item | history) - score(item | history without the event at `historyPosition`).
  public func setContribution(item: Int, historyPosition: Int, _ value: Float) {
    precondition(item >= 0 && item < raw.pointee.item_count && historyPosition >= 0 && historyPosition < historyCount,
                 "Explanation: index out of range")
    raw.pointee.contributions[item * historyCount + historyPosition] = value
  }

  /// The attention the last position's query pays the event at `historyPosition`.
  public func setAttention(historyPosition: Int, _ value: Float) {
    precondition(historyPosition >= 0 && historyPosition < historyCount, "Explanation: index out of range")
    raw.pointee.attention[historyPosition] = value
  }

  /// Writes occlusion results. `scores` is `[(1 + kept.count) x itemIDs.count]`: row 0 scores the
  /// items under the kept history, row 1 + j under the kept history without its event j.
  public func writeOcclusion(scores: UnsafeBufferPointer<Float>, kept: KeptHistory) {
    let items = raw.pointee.item_count
    precondition(scores.count >= (1 + kept.count) * items, "writeOcclusion: scores too small")
    for item in 0..<items {
      for (j, position) in kept.positions.enumerated() {
        setContribution(item: item, historyPosition: position, scores[item] - scores[(1 + j) * items + item])
      }
    }
  }
}

/// The history events a model uses (known items, the last max_history of them), oldest first,
/// with where each stands in the request's history.
public struct KeptHistory {
  public let positions: [Int]
  public let rows: [Int32]
  public let types: [Int32]
  public var count: Int { rows.count }
}

/// Where an occlusion explanation starts: the history events the model uses and the catalog rows
/// of the items to explain.
public struct OcclusionInput {
  public let kept: KeptHistory
  public let itemRows: [Int32]
}

extension Catalog {
  /// The kept history and the rows of `explanation`'s items; nil when there is nothing to explain
  /// (no kept event or no item), so every contribution stays 0.
  public func occlusionInput(_ request: Request, maxHistory: Int, explaining explanation: Explanation) throws
    -> OcclusionInput?
  {
    let kept = keptHistory(request, maxLength: maxHistory)
    if kept.count == 0 || explanation.itemIDs.isEmpty { return nil }
    return OcclusionInput(kept: kept, itemRows: try rows(of: explanation.itemIDs))
  }

  /// The events `historyRows`/`historyEvents` keep, with their request positions.
  public func keptHistory(_ request: Request, maxLength: Int) -> KeptHistory {
    var positions: [Int] = []
    var rows: [Int32] = []
    var types: [Int32] = []
    for position in request.historyItemIDs.indices.reversed() where rows.count < maxLength {
      if let row = row(of: request.historyItemIDs[position]) {
        positions.append(position)
        rows.append(row)
        types.append(request.historyTypes[position])
      }
    }
    return KeptHistory(positions: positions.reversed(), rows: rows.reversed(), types: types.reversed())
  }

  /// The catalog row of each item to explain; an item the catalog lacks is the caller's error.
  public func rows(of items: UnsafeBufferPointer<Int64>) throws -> [Int32] {
    try items.map { id in
      guard let row = row(of: id) else {
        throw ModelError.invalidArgument("item \(id) is not in this model's catalog; only returned items are explained")
      }
      return row
    }
  }

  /// For each item, its index among the request's candidates (candidate kinds read its features).
  public func candidateIndices(of items: UnsafeBufferPointer<Int64>, in request: Request) throws -> [Int] {
    var indexOf: [Int64: Int] = [:]
    for (index, id) in request.candidateItemIDs.enumerated() { indexOf[id] = index }
    return try items.map { id in
      guard let index = indexOf[id] else {
        throw ModelError.invalidArgument("item \(id) is not among the request's candidates; only returned items are explained")
      }
      return index
    }
  }
}

import CGRPCShim
import PluginHost

/// A history event named in an explanation: in an item's `because` (value = its contribution) or
/// in the history attention (value = the attention weight).
public struct ExplainedEvent: Equatable, Sendable {
  public var itemID: Int64
  public var position: Int
  public var type: Int32
  public var value: Float

  public init(itemID: Int64, position: Int, type: Int32, value: Float) {
    self.itemID = itemID
    self.position = position
    self.type = type
    self.value = value
  }
}

/// What explain=true adds to a reply: per returned item its reasons, best first, and the
/// attention over the history (empty for kinds without attention).
public struct Explanations: Equatable, Sendable {
  public var because: [[ExplainedEvent]]
  public var attention: [ExplainedEvent]

  public init(because: [[ExplainedEvent]], attention: [ExplainedEvent]) {
    self.because = because
    self.attention = attention
  }
}

extension Explanations {
  /// Asks the model to explain the items it returned for `request` (the plugin request it ranked),
  /// keeps each item's top contributions (BecauseSelection) and writes both into the response.
  /// A kind without explain() gets empty lists.
  static func explain(_ request: BorrowedRequest, items: UnsafeBufferPointer<Int64>,
                      model: ModelInstance, response: OpaquePointer) throws -> Explanations {
    let historyCount = request.historyItemIDs.count
    var because: [[ExplainedEvent]] = []
    var attention: [ExplainedEvent] = []
    func event(_ position: Int, _ value: Float) -> ExplainedEvent {
      ExplainedEvent(itemID: request.historyItemIDs[position], position: position,
                     type: request.historyTypes[position], value: value)
    }
    try withUnsafeTemporaryAllocation(of: Float.self, capacity: max(items.count * historyCount, 1)) { contributions in
      try withUnsafeTemporaryAllocation(of: Float.self, capacity: max(historyCount, 1)) { weights in
        try model.explain(request, items: items, contributions: contributions, attention: weights)
        for item in items.indices {
          let row = UnsafeBufferPointer(rebasing: contributions[item * historyCount..<(item + 1) * historyCount])
          because.append(BecauseSelection.top(row).map { event($0, row[$0]) })
        }
        attention = (0..<historyCount).filter { !weights[$0].isNaN }.map { event($0, weights[$0]) }
      }
    }
    for (item, events) in because.enumerated() where !events.isEmpty {
      Self.withShimEvents(events) { rs_response_set_because(response, item, $0.baseAddress, $0.count) }
    }
    if !attention.isEmpty {
      Self.withShimEvents(attention) { rs_response_set_history_attention(response, $0.baseAddress, $0.count) }
    }
    return Explanations(because: because, attention: attention)
  }

  private static func withShimEvents(_ events: [ExplainedEvent], _ body: (UnsafeBufferPointer<rs_explained_event>) -> Void) {
    let shim = events.map {
      rs_explained_event(item_id: $0.itemID, position: Int32($0.position), type: $0.type, value: $0.value)
    }
    shim.withUnsafeBufferPointer(body)
  }
}

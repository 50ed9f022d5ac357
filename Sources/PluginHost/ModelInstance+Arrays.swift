/// A request held in Swift arrays, for callers that own their data: a version's warm-up, shadow
/// scoring, tests. (The serving path hands the plugin the call's own memory instead.)
public struct ModelRequest: Sendable {
  public var historyItemIDs: [Int64]
  /// One per history item; empty means every event is a VIEW.
  public var historyTypes: [Int32]
  public var candidateItemIDs: [Int64]
  /// Row-major [candidates x F].
  public var candidateFeatures: [Float]
  public var context: [Float]
  public var topK: Int
  public var excludeHistory: Bool
  public var seed: UInt64
  /// Items never to return besides the history (exclude_item_ids, named item sets).
  public var exclusions: ItemExclusions

  public init(historyItemIDs: [Int64] = [], historyTypes: [Int32] = [], candidateItemIDs: [Int64] = [],
              candidateFeatures: [Float] = [], context: [Float] = [], topK: Int, excludeHistory: Bool = false,
              seed: UInt64 = 1, exclusions: ItemExclusions = .none) {
    self.historyItemIDs = historyItemIDs
    self.historyTypes = historyTypes
    self.candidateItemIDs = candidateItemIDs
    self.candidateFeatures = candidateFeatures
    self.context = context
    self.topK = topK
    self.excludeHistory = excludeHistory
    self.seed = seed
    self.exclusions = exclusions
  }
}

/// What a plugin returned for a `ModelRequest`, best first.
public struct ModelAnswer: Equatable, Sendable {
  public var itemIDs: [Int64]
  public var scores: [Float]
  public var propensities: [Float]
  public var unknownItemIDs: [Int64]

  public init(itemIDs: [Int64], scores: [Float], propensities: [Float], unknownItemIDs: [Int64]) {
    self.itemIDs = itemIDs
    self.scores = scores
    self.propensities = propensities
    self.unknownItemIDs = unknownItemIDs
  }
}

extension ModelInstance {
  /// Runs one request held in arrays. `cancelled` is the plugin's cancellation flag (nil: never).
  /// Throws what `recommend(_:into:)` throws: the plugin's status, or the answer check's error.
  public func recommend(_ request: ModelRequest, cancelled: UnsafePointer<Int32>? = nil) throws -> ModelAnswer {
    try request.withBorrowed(cancelled: cancelled) { borrowed in
      try AnswerBuffers.withTemporary(topK: request.topK, candidates: request.candidateItemIDs.count) { buffers in
        let answer = try recommend(borrowed, into: buffers)
        return ModelAnswer(itemIDs: Array(answer.itemIDs), scores: Array(answer.scores),
                           propensities: Array(answer.propensities), unknownItemIDs: Array(answer.unknownItemIDs))
      }
    }
  }

  /// Explains `items` (what the same request returned): per item, the contribution of each request
  /// history position (NaN: not used), and the attention per position (NaN: none).
  public func explain(_ request: ModelRequest, items: [Int64]) throws -> (contributions: [[Float]], attention: [Float]) {
    let historyCount = request.historyItemIDs.count
    var contributions = [Float](repeating: .nan, count: max(items.count * historyCount, 1))
    var attention = [Float](repeating: .nan, count: max(historyCount, 1))
    try request.withBorrowed(cancelled: nil) { borrowed in
      try items.withUnsafeBufferPointer { items in
        try contributions.withUnsafeMutableBufferPointer { contributions in
          try attention.withUnsafeMutableBufferPointer { attention in
            try explain(borrowed, items: items, contributions: contributions, attention: attention)
          }
        }
      }
    }
    return ((0..<items.count).map { Array(contributions[$0 * historyCount..<($0 + 1) * historyCount]) },
            Array(attention[0..<historyCount]))
  }
}

extension ModelRequest {
  /// The borrowed view of this request, valid inside `body`: every pointer it holds is scoped here.
  public func withBorrowed<T>(cancelled: UnsafePointer<Int32>?, _ body: (BorrowedRequest) throws -> T) rethrows -> T {
    let types = historyTypes.isEmpty ? [Int32](repeating: 0, count: historyItemIDs.count) : historyTypes
    return try historyItemIDs.withUnsafeBufferPointer { history in
      try types.withUnsafeBufferPointer { types in
        try candidateItemIDs.withUnsafeBufferPointer { candidates in
          try candidateFeatures.withUnsafeBufferPointer { features in
            try context.withUnsafeBufferPointer { context in
              try body(BorrowedRequest(
                historyItemIDs: history, historyTypes: types, candidateItemIDs: candidates,
                candidateFeatures: features, context: context, topK: topK, excludeHistory: excludeHistory,
                seed: seed, exclusions: exclusions, cancelled: cancelled))
            }
          }
        }
      }
    }
  }
}

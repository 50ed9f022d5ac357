import CRecSysPlugin

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
  /// Throws the plugin's status and message, or INTERNAL when the plugin reports more items than
  /// it was given room for (a broken plugin).
  public func recommend(_ request: ModelRequest, cancelled: UnsafePointer<Int32>? = nil) throws -> ModelAnswer {
    let capacity = max(request.topK, 0)
    var ids = [Int64](repeating: 0, count: capacity)
    var scores = [Float](repeating: 0, count: capacity)
    var propensities = [Float](repeating: 0, count: capacity)
    var unknown = [Int64](repeating: 0, count: max(request.candidateItemIDs.count, 1))
    var count = 0
    var unknownCount = 0
    try request.withRaw(cancelled: cancelled) { raw in
      try ids.withUnsafeMutableBufferPointer { ids in
        try scores.withUnsafeMutableBufferPointer { scores in
          try propensities.withUnsafeMutableBufferPointer { propensities in
            try unknown.withUnsafeMutableBufferPointer { unknown in
              var result = recsys_result(
                item_ids: ids.baseAddress, scores: scores.baseAddress, propensities: propensities.baseAddress,
                capacity: capacity, count: 0, unknown_item_ids: unknown.baseAddress, unknown_count: 0)
              try recommend(raw, into: &result)
              guard result.count <= capacity, result.unknown_count <= unknown.count else {
                throw PluginError(code: RECSYS_INTERNAL, "the plugin returned \(result.count) items and "
                  + "\(result.unknown_count) unknown ids for room of \(capacity) and \(unknown.count)")
              }
              count = result.count
              unknownCount = result.unknown_count
            }
          }
        }
      }
    }
    return ModelAnswer(itemIDs: Array(ids[..<count]), scores: Array(scores[..<count]),
                       propensities: Array(propensities[..<count]), unknownItemIDs: Array(unknown[..<unknownCount]))
  }

  /// Explains `items` (what the same request returned): per item, the contribution of each request
  /// history position (NaN: not used), and the attention per position (NaN: none).
  public func explain(_ request: ModelRequest, items: [Int64]) throws -> (contributions: [[Float]], attention: [Float]) {
    let historyCount = request.historyItemIDs.count
    var contributions = [Float](repeating: .nan, count: max(items.count * historyCount, 1))
    var attention = [Float](repeating: .nan, count: max(historyCount, 1))
    try request.withRaw(cancelled: nil) { raw in
      try items.withUnsafeBufferPointer { items in
        try contributions.withUnsafeMutableBufferPointer { contributions in
          try attention.withUnsafeMutableBufferPointer { attention in
            try explain(raw, items: items, contributions: contributions, attention: attention)
          }
        }
      }
    }
    return ((0..<items.count).map { Array(contributions[$0 * historyCount..<($0 + 1) * historyCount]) },
            Array(attention[0..<historyCount]))
  }
}

extension ModelRequest {
  /// The C view of this request, valid inside `body`: every pointer it holds is scoped here.
  func withRaw<T>(cancelled: UnsafePointer<Int32>?, _ body: (UnsafePointer<recsys_request>) throws -> T) rethrows -> T {
    let types = historyTypes.isEmpty ? [Int32](repeating: 0, count: historyItemIDs.count) : historyTypes
    let capacity = max(topK, 0)
    return try historyItemIDs.withUnsafeBufferPointer { history in
      try types.withUnsafeBufferPointer { types in
        try candidateItemIDs.withUnsafeBufferPointer { candidates in
          try candidateFeatures.withUnsafeBufferPointer { features in
            try context.withUnsafeBufferPointer { context in
              try exclusions.withRaw { sets in
                var raw = recsys_request(
                  history_item_ids: history.baseAddress, history_types: types.baseAddress,
                  history_count: history.count,
                  candidate_item_ids: candidates.baseAddress, candidate_count: candidates.count,
                  candidate_features: features.baseAddress, candidate_feature_count: features.count,
                  context: context.baseAddress, context_count: context.count,
                  top_k: UInt32(capacity), exclude_history: excludeHistory ? 1 : 0,
                  seed: seed, cancelled: cancelled, excluded_sets: sets.baseAddress, excluded_set_count: sets.count)
                return try body(&raw)
              }
            }
          }
        }
      }
    }
  }
}

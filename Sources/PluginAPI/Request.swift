import CRecSysPlugin

/// One request as the host validated it; valid only during `recommend`.
public struct Request {
  public let historyItemIDs: UnsafeBufferPointer<Int64>
  public let historyTypes: UnsafeBufferPointer<Int32>
  public let candidateItemIDs: UnsafeBufferPointer<Int64>
  public let candidateFeatures: UnsafeBufferPointer<Float>
  public let context: UnsafeBufferPointer<Float>
  public let topK: Int
  public let excludeHistory: Bool
  /// Seeds exploration: the same request gets the same answer.
  public let seed: UInt64
  private let cancelled: UnsafePointer<Int32>?
  /// ABI 1.2: sorted id lists of items never to return (the request's exclude_item_ids, named
  /// item sets); `ExclusionSet` reads them.
  public let excludedSets: UnsafeBufferPointer<recsys_item_set>

  public init(_ raw: recsys_request) {
    historyItemIDs = UnsafeBufferPointer(start: raw.history_item_ids, count: raw.history_count)
    historyTypes = UnsafeBufferPointer(start: raw.history_types, count: raw.history_count)
    candidateItemIDs = UnsafeBufferPointer(start: raw.candidate_item_ids, count: raw.candidate_count)
    candidateFeatures = UnsafeBufferPointer(start: raw.candidate_features, count: raw.candidate_feature_count)
    context = UnsafeBufferPointer(start: raw.context, count: raw.context_count)
    topK = Int(raw.top_k)
    excludeHistory = raw.exclude_history != 0
    seed = raw.seed
    cancelled = raw.cancelled.map { UnsafePointer($0) }
    excludedSets = UnsafeBufferPointer(start: raw.excluded_sets, count: raw.excluded_sets == nil ? 0 : raw.excluded_set_count)
  }

  /// True once the caller gave up: long loops check it and throw `ModelError.cancelled`.
  public var isCancelled: Bool { cancelled.map { $0.pointee != 0 } ?? false }

  /// Checks `context` has the model's C values.
  public func requireContext(count expected: Int) throws {
    guard context.count == expected else {
      throw ModelError.invalidArgument(
        "context has \(context.count) values; this model takes exactly \(expected) (context_dim in model.json)")
    }
  }

  /// Checks `candidate_features` is `[candidates x F]` for the model's F.
  public func requireCandidateFeatures(perCandidate expected: Int) throws {
    let wanted = candidateItemIDs.count * expected
    guard candidateFeatures.count == wanted else {
      throw ModelError.invalidArgument(
        "candidate_features has \(candidateFeatures.count) values; this model takes \(expected) per candidate, "
          + "so \(candidateItemIDs.count) candidates need \(wanted) (row-major [candidates x \(expected)])")
    }
  }

  /// Checks there are candidates, for kinds that cannot rank the whole catalog.
  public func requireCandidates(kind: String) throws {
    guard !candidateItemIDs.isEmpty else {
      throw ModelError.invalidArgument(
        "candidate_item_ids is empty; a \"\(kind)\" model scores given candidates only")
    }
  }
}

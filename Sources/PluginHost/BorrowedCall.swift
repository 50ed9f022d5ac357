import CRecSysPlugin
import RecSysStatus

/// One request as borrowed memory: the serving path points it into the call's parsed message,
/// warm-up, shadow scoring and tests into their own arrays (`ModelRequest.withBorrowed`). Valid
/// only while that memory is. The one description of a request the host hands a plugin: only
/// PluginHost turns it into the ABI's `recsys_request`.
public struct BorrowedRequest {
  /// Oldest first.
  public var historyItemIDs: UnsafeBufferPointer<Int64>
  /// One per history item: 0 view, 1 click, 2 add-to-cart, 3 purchase.
  public var historyTypes: UnsafeBufferPointer<Int32>
  /// Empty: rank the whole catalog (kinds that can).
  public var candidateItemIDs: UnsafeBufferPointer<Int64>
  /// Row-major [candidates x F].
  public var candidateFeatures: UnsafeBufferPointer<Float>
  public var context: UnsafeBufferPointer<Float>
  public var topK: Int
  public var excludeHistory: Bool
  public var seed: UInt64
  /// Items never to return besides the history (exclude_item_ids, named item sets).
  public var exclusions: ItemExclusions
  /// Nonzero once the caller gave up (nil: never); the plugin stops at its next check.
  public var cancelled: UnsafePointer<Int32>?

  public init(historyItemIDs: UnsafeBufferPointer<Int64>, historyTypes: UnsafeBufferPointer<Int32>,
              candidateItemIDs: UnsafeBufferPointer<Int64>, candidateFeatures: UnsafeBufferPointer<Float>,
              context: UnsafeBufferPointer<Float>, topK: Int, excludeHistory: Bool, seed: UInt64,
              exclusions: ItemExclusions = .none, cancelled: UnsafePointer<Int32>? = nil) {
    precondition(historyTypes.count == historyItemIDs.count, "one history type per history item")
    self.historyItemIDs = historyItemIDs
    self.historyTypes = historyTypes
    self.candidateItemIDs = candidateItemIDs
    self.candidateFeatures = candidateFeatures
    self.context = context
    self.topK = topK
    self.excludeHistory = excludeHistory
    self.seed = seed
    self.exclusions = exclusions
    self.cancelled = cancelled
  }
}

/// Where a plugin writes its answer: caller-owned buffers (the serving path's live on the stack
/// of the call, see `withTemporary`), reused for the whole call, so nothing is allocated per
/// candidate. `itemIDs`, `scores` and `propensities` hold top_k items; `unknownItemIDs` room
/// for every candidate.
public struct AnswerBuffers {
  public let itemIDs: UnsafeMutableBufferPointer<Int64>
  public let scores: UnsafeMutableBufferPointer<Float>
  public let propensities: UnsafeMutableBufferPointer<Float>
  public let unknownItemIDs: UnsafeMutableBufferPointer<Int64>

  public init(itemIDs: UnsafeMutableBufferPointer<Int64>, scores: UnsafeMutableBufferPointer<Float>,
              propensities: UnsafeMutableBufferPointer<Float>, unknownItemIDs: UnsafeMutableBufferPointer<Int64>) {
    precondition(scores.count >= itemIDs.count && propensities.count >= itemIDs.count, "answer buffers disagree")
    self.itemIDs = itemIDs
    self.scores = scores
    self.propensities = propensities
    self.unknownItemIDs = unknownItemIDs
  }

  /// Buffers for `topK` items and `candidates` unknown ids, valid inside `body` (stack memory
  /// where it fits: the serving path allocates nothing on the heap for them).
  public static func withTemporary<T>(topK: Int, candidates: Int, _ body: (AnswerBuffers) throws -> T) rethrows -> T {
    let capacity = max(topK, 0)
    return try withUnsafeTemporaryAllocation(of: Int64.self, capacity: capacity + max(candidates, 1)) { ids in
      try withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * capacity) { floats in
        try body(AnswerBuffers(
          itemIDs: UnsafeMutableBufferPointer(rebasing: ids[0..<capacity]),
          scores: UnsafeMutableBufferPointer(rebasing: floats[0..<capacity]),
          propensities: UnsafeMutableBufferPointer(rebasing: floats[capacity..<2 * capacity]),
          unknownItemIDs: UnsafeMutableBufferPointer(rebasing: ids[capacity...])))
      }
    }
  }

  /// How much of each buffer one answer filled.
  public struct Counts: Equatable, Sendable {
    public var items: Int
    public var unknown: Int
  }

  /// The filled part of the buffers, best first.
  public func answer(_ counts: Counts) -> BorrowedAnswer {
    BorrowedAnswer(
      itemIDs: UnsafeBufferPointer(rebasing: itemIDs[0..<counts.items]),
      scores: UnsafeBufferPointer(rebasing: scores[0..<counts.items]),
      propensities: UnsafeBufferPointer(rebasing: propensities[0..<counts.items]),
      unknownItemIDs: UnsafeBufferPointer(rebasing: unknownItemIDs[0..<counts.unknown]))
  }
}

/// A checked answer in `AnswerBuffers`: valid as long as the buffers are.
public struct BorrowedAnswer {
  public let itemIDs: UnsafeBufferPointer<Int64>
  public let scores: UnsafeBufferPointer<Float>
  public let propensities: UnsafeBufferPointer<Float>
  public let unknownItemIDs: UnsafeBufferPointer<Int64>
}

/// A plugin answered something the contract forbids, or a score no reply may carry. Raised by the
/// one answer check (`AnswerCheck`) every path runs through; `ServiceError` maps it to its status.
public struct PluginAnswerError: Error, CustomStringConvertible {
  public enum Reason: Sendable {
    /// The plugin broke recsys_plugin.h (more items than room, an item it was not given, an
    /// unknown status): INTERNAL, naming the plugin.
    case brokenPlugin
    /// A finite model computed ±inf/NaN from inputs too large for it: INVALID_ARGUMENT.
    case nonFiniteScore
  }
  public let reason: Reason
  public let description: String

  public init(reason: Reason, description: String) {
    self.reason = reason
    self.description = description
  }

  public var status: StatusCode { reason == .brokenPlugin ? .internal : .invalidArgument }
}

extension ModelInstance {
  /// Who answered, for messages: "model mlp@3 (plugin mlp 1.0.0, /path/librecsys-mlp.so)".
  var answerer: String {
    "\(model.isEmpty ? "a model" : "model \(model)") (plugin \(plugin.kind) \(plugin.version), \(plugin.path))"
  }

  /// The status a plugin returned, as the call's: one of the table's codes, or INTERNAL naming the
  /// plugin (a plugin's number outside the table would reach clients as a meaningless status).
  func statusError(_ raw: recsys_status, message: String) -> Error {
    guard let code = StatusCode(rawValue: raw), code != .ok else {
      return PluginAnswerError(reason: .brokenPlugin, description:
        "\(answerer) returned status \(raw), which recsys_plugin.h does not define"
          + (message.isEmpty ? "" : " (its message: \(message))"))
    }
    return PluginError(code: code, message.isEmpty ? "\(answerer): \(code.defaultMessage)" : message)
  }

  /// The one check of a plugin's answer, on every path (serving, warm-up, shadow, tests).
  /// Membership of returned items among the candidates costs top_k x candidates comparisons, so
  /// it runs where that stays below `membershipCheckLimit` (every ordinary request; a 10k-candidate
  /// request asking for 1000 items skips it rather than pay 10M comparisons per call).
  func check(_ result: recsys_result, _ request: BorrowedRequest, _ buffers: AnswerBuffers) throws -> AnswerBuffers.Counts {
    guard result.count <= min(buffers.itemIDs.count, max(request.topK, 0)),
          result.unknown_count <= min(buffers.unknownItemIDs.count, request.candidateItemIDs.count)
    else {
      throw PluginAnswerError(reason: .brokenPlugin, description:
        "\(answerer) returned \(result.count) items and \(result.unknown_count) unknown ids for room of "
          + "\(min(buffers.itemIDs.count, request.topK)) and \(request.candidateItemIDs.count)")
    }
    let count = result.count
    let candidates = request.candidateItemIDs
    if !candidates.isEmpty && count * candidates.count <= Self.membershipCheckLimit {
      for index in 0..<count where !candidates.contains(buffers.itemIDs[index]) {
        throw PluginAnswerError(reason: .brokenPlugin, description:
          "\(answerer) returned item \(buffers.itemIDs[index]), which is not among the request's candidates")
      }
    }
    for index in 0..<count where !buffers.scores[index].isFinite {
      throw PluginAnswerError(reason: .nonFiniteScore, description:
        "\(model.isEmpty ? "the model" : "model \(model)") computed the score \(buffers.scores[index]) for item "
          + "\(buffers.itemIDs[index]): the request's candidate_features or context values are too large for it "
          + "(they overflow float32); send values in the range the model was trained on")
    }
    return AnswerBuffers.Counts(items: count, unknown: result.unknown_count)
  }

  static let membershipCheckLimit = 1 << 16
}

extension BorrowedRequest {
  /// The ABI view of this request, valid inside `body`. Refuses exclusions for a plugin older than
  /// ABI 1.2, which would silently return excluded items.
  func withPluginRequest<T>(for plugin: Plugin, _ body: (UnsafePointer<recsys_request>) throws -> T) throws -> T {
    if !exclusions.isEmpty && plugin.abiMinor < 2 {
      throw PluginError(code: .failedPrecondition,
        "the \(plugin.kind) plugin (ABI \(plugin.abiVersion)) predates eligibility filters (ABI 1.2); "
          + "rebuild it against this sidecar's recsys_plugin.h, or send the request without exclude_item_ids / exclude_item_sets")
    }
    return try exclusions.withRaw { sets in
      var raw = recsys_request(
        history_item_ids: historyItemIDs.baseAddress, history_types: historyTypes.baseAddress,
        history_count: historyItemIDs.count,
        candidate_item_ids: candidateItemIDs.baseAddress, candidate_count: candidateItemIDs.count,
        candidate_features: candidateFeatures.baseAddress, candidate_feature_count: candidateFeatures.count,
        context: context.baseAddress, context_count: context.count,
        top_k: UInt32(clamping: max(topK, 0)), exclude_history: excludeHistory ? 1 : 0,
        seed: seed, cancelled: cancelled, excluded_sets: sets.baseAddress, excluded_set_count: sets.count)
      return try body(&raw)
    }
  }
}

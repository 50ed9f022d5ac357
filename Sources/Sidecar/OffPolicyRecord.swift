import Foundation

/// What off-policy evaluation needs beyond the exposure line of a response, found by the shadow
/// thread for a sample of an experiment's requests (`ope_sample_percent`) and written to the
/// exposure log as its own line:
///
///     {"ts":"...","request_id":"r-7","ope":{"candidate":"popularity@2","ranking":[5,9,2],"logging_ranking":[9,5,2,7]}}
///
/// `ranking` is the candidate's list on the same request; `logging_ranking` is the logging
/// model's greedy order of every eligible candidate (best first), present only when the response
/// explored (some propensity below 1): with it and the logged propensities, the evaluation finds
/// the probability of any item at any position (OffPolicy's EpsilonGreedyMarginals).
public struct OffPolicyRecord: Sendable, Equatable {
  public var candidate: String  // the shadow as it served: name@version
  public var ranking: [Int64]
  public var loggingRanking: [Int64]

  public init(candidate: String, ranking: [Int64], loggingRanking: [Int64]) {
    self.candidate = candidate
    self.ranking = ranking
    self.loggingRanking = loggingRanking
  }

  /// Greedy order of `items` by `scores`: highest first, ties to the earlier candidate, NaN last
  /// (RecSysKernels' topK order, which the epsilon-greedy slate follows).
  public static func greedyOrder(items: [Int64], scores: [Float], candidateOrder: [Int64]) -> [Int64] {
    var place: [Int64: Int] = [:]
    for (index, item) in candidateOrder.enumerated() where place[item] == nil { place[item] = index }
    let order = items.indices.sorted { a, b in
      let (x, y) = (scores[a], scores[b])
      if x.isNaN != y.isNaN { return y.isNaN }
      if !x.isNaN && x != y { return x > y }
      return (place[items[a]] ?? Int.max) < (place[items[b]] ?? Int.max)
    }
    return order.map { items[$0] }
  }

  public func appendLine(requestID: String, timestamp: Date, to out: inout [UInt8]) {
    out.append(contentsOf: #"{"ts":""#.utf8)
    ExposureJSON.appendTimestamp(timestamp, to: &out)
    out.append(contentsOf: #"","request_id":"#.utf8)
    ExposureJSON.appendString(requestID, to: &out)
    out.append(contentsOf: #","ope":{"candidate":"#.utf8)
    ExposureJSON.appendString(candidate, to: &out)
    out.append(contentsOf: #","ranking":"#.utf8)
    ExposureJSON.appendItems(ranking, to: &out)
    if !loggingRanking.isEmpty {
      out.append(contentsOf: #","logging_ranking":"#.utf8)
      ExposureJSON.appendItems(loggingRanking, to: &out)
    }
    out.append(contentsOf: "}}\n".utf8)
  }
}

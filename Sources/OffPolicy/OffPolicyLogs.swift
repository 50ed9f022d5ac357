import Foundation

/// The exposure and feedback logs joined into `LoggedSlate`s for one candidate model.
///
/// Reads three kinds of lines: exposures (what was shown, with the logging policy's conditional
/// propensities), the shadow's off-policy records (`"ope"`: the candidate's ranking on the same
/// request and, for an exploring policy, its greedy ranking of every eligible item), and feedback
/// (a CLICK on (request, item) is that position's reward). Forced (QA) responses are left out.
public struct OffPolicyLogs {
  /// The slates of one logging policy (one served model version).
  public struct Group {
    public let loggingModel: String
    public let experiment: String
    public var slates: [LoggedSlate]
  }

  private struct Shown {
    let model: String
    let experiment: String
    let items: [Int64]
    let propensities: [Double]
  }

  private struct Record {
    let candidate: String
    let ranking: [Int64]
    let loggingRanking: [Int64]
  }

  private var shown: [String: Shown] = [:]
  private var records: [String: [Record]] = [:]
  private var clicks: Set<String> = []
  public private(set) var exposureLines = 0
  public private(set) var recordLines = 0
  public private(set) var feedbackLines = 0
  /// Records whose exposure is not in the logs, or of an exploring policy without its ranking.
  public private(set) var unusable = 0

  public init(exposureFiles: [String], feedbackFiles: [String]) throws {
    for file in exposureFiles { for line in try LogFiles.lines(file) { addExposureLine(line) } }
    for file in feedbackFiles { for line in try LogFiles.lines(file) { addFeedbackLine(line) } }
  }

  public init(exposureLines: Data, feedbackLines: Data) {
    for line in LogFiles.objects(exposureLines) { addExposureLine(line) }
    for line in LogFiles.objects(feedbackLines) { addFeedbackLine(line) }
  }

  private mutating func addExposureLine(_ line: [String: Any]) {
    guard let requestID = line["request_id"] as? String else { return }
    if let record = line["ope"] as? [String: Any] {
      recordLines += 1
      guard let candidate = record["candidate"] as? String, let ranking = Self.items(record["ranking"]) else { return }
      records[requestID, default: []].append(
        Record(candidate: candidate, ranking: ranking, loggingRanking: Self.items(record["logging_ranking"]) ?? []))
      return
    }
    exposureLines += 1
    guard !(line["forced"] as? Bool ?? false), let model = line["model"] as? String,
          let items = Self.items(line["items"]),
          let propensities = (line["propensities"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.doubleValue }),
          propensities.count == items.count
    else { return }
    shown[requestID] = Shown(model: model, experiment: line["experiment"] as? String ?? "", items: items,
                             propensities: propensities)
  }

  private mutating func addFeedbackLine(_ line: [String: Any]) {
    feedbackLines += 1
    guard line["type"] as? String == "CLICK", let requestID = line["request_id"] as? String,
          let item = (line["item_id"] as? NSNumber)?.int64Value
    else { return }
    clicks.insert(Self.clickKey(requestID, item))
  }

  private static func clickKey(_ requestID: String, _ item: Int64) -> String { "\(requestID)\u{0}\(item)" }

  private static func items(_ value: Any?) -> [Int64]? {
    guard let list = value as? [Any] else { return nil }
    let items = list.compactMap { ($0 as? NSNumber)?.int64Value }
    return items.count == list.count ? items : nil
  }

  /// `candidate` is MODEL (any version) or MODEL@VERSION, as the records name it ("popularity@3").
  public static func matches(_ recorded: String, candidate: String) -> Bool {
    candidate.contains("@") ? recorded == candidate : recorded.split(separator: "@").first.map(String.init) == candidate
  }

  /// The candidate's slates per logging model, in request-id order (groups by model name).
  public mutating func groups(candidate: String) -> [Group] {
    var groups: [String: Group] = [:]
    unusable = 0
    for requestID in records.keys.sorted() {
      guard let record = records[requestID]?.first(where: { Self.matches($0.candidate, candidate: candidate) }) else {
        continue
      }
      guard let exposure = shown[requestID], let slate = slate(requestID, exposure, record) else {
        unusable += 1
        continue
      }
      groups[exposure.model, default: Group(loggingModel: exposure.model, experiment: exposure.experiment, slates: [])]
        .slates.append(slate)
    }
    return groups.keys.sorted().map { groups[$0]! }
  }

  private func slate(_ requestID: String, _ exposure: Shown, _ record: Record) -> LoggedSlate? {
    let positions = min(exposure.items.count, record.ranking.count)
    let shownItems = Array(exposure.items.prefix(positions))
    let candidate = Array(record.ranking.prefix(positions))
    let clicked = shownItems.map { clicks.contains(Self.clickKey(requestID, $0)) }
    if exposure.propensities.allSatisfy({ $0 == 1 }) {
      // A deterministic policy: it shows exactly this slate.
      return LoggedSlate(
        requestID: requestID, shown: shownItems, clicked: clicked,
        shownPropensities: [Double](repeating: 1, count: positions), candidate: candidate,
        candidatePropensities: zip(candidate, shownItems).map { $0 == $1 ? 1 : 0 })
    }
    // Epsilon-greedy: marginals from the policy's greedy ranking of every eligible item.
    let ranking = record.loggingRanking
    guard positions > 0, !ranking.isEmpty,
          let epsilon = EpsilonGreedyMarginals.epsilon(
            firstPropensity: exposure.propensities[0], firstWasGreedy: exposure.items[0] == ranking[0],
            eligible: ranking.count)
    else { return nil }
    var rankOf: [Int64: Int] = [:]
    for (rank, item) in ranking.enumerated() where rankOf[item] == nil { rankOf[item] = rank }
    let marginals = EpsilonGreedyMarginals(eligible: ranking.count, epsilon: epsilon, slots: positions)
    func propensity(_ item: Int64, _ slot: Int) -> Double {
      rankOf[item].map { marginals.probability(rank: $0, slot: slot) } ?? 0
    }
    let shownPropensities = shownItems.enumerated().map { propensity($1, $0) }
    guard shownPropensities.allSatisfy({ $0 > 0 }) else { return nil }  // the ranking does not fit the slate
    return LoggedSlate(
      requestID: requestID, shown: shownItems, clicked: clicked, shownPropensities: shownPropensities,
      candidate: candidate, candidatePropensities: candidate.enumerated().map { propensity($1, $0) })
  }
}

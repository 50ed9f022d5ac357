import XCTest

import Experiments

final class ThompsonPolicyTests: XCTestCase {
  let config = """
    experiments:
      - key: bandit
        salt: "1"
        mode: thompson
        min_share: 10
        arms: [{name: control, model: mlp}, {name: treatment, model: lstm}]
    """

  /// Feeds 1000 impressions per arm with the given clicks, through the ledger's public path.
  func feed(_ ledger: ExperimentLedger, clicks: [String: Int]) throws {
    let set = try experimentSet(config, ledger: ledger)
    var shown = ["control": 0, "treatment": 0]
    var seed: UInt64 = 0
    while shown.values.contains(where: { $0 < 1000 }) {
      seed += 1
      let assignment = try XCTUnwrap(set.assign(RequestTraits(userID: "u\(seed)"), seed: seed))
      let arm = assignment.armName
      guard shown[arm]! < 1000 else { continue }
      expose(ledger, "r\(seed)", assignment)
      if shown[arm]! < clicks[arm]! {
        _ = try ledger.recordFeedback(requestID: "r\(seed)", itemID: 1, kind: .click, value: 0)
      }
      shown[arm]! += 1
    }
  }

  func testServesTheBetterArmKeepsMinimumSharesAndLogsHonestProbabilities() throws {
    let ledger = ExperimentLedger()
    try feed(ledger, clicks: ["control": 20, "treatment": 80])
    let set = try experimentSet(config, ledger: ledger)
    XCTAssertEqual(set.report()[0].arms.map(\.impressions), [1000, 1000])
    XCTAssertEqual(set.report()[0].arms.map(\.clicks), [20, 80])

    let draws = 20_000
    var served = [0, 0]
    var loggedSum = [0.0, 0.0]
    var loggedCount = [0, 0]
    for seed in 0..<UInt64(draws) {
      let traits = RequestTraits(userID: "user-\(seed % 500)")
      let assignment = try XCTUnwrap(set.assign(traits, seed: seed))
      let arm = try XCTUnwrap(assignment.armIndex)
      served[arm] += 1
      loggedSum[arm] += assignment.probability
      loggedCount[arm] += 1
      XCTAssertGreaterThanOrEqual(assignment.probability, 0.1)
      XCTAssertLessThanOrEqual(assignment.probability, 0.9 + 1e-12)
      XCTAssertFalse(assignment.forced)
    }
    let shares = served.map { Double($0) / Double(draws) }
    XCTAssertGreaterThan(shares[1], 0.8)
    XCTAssertGreaterThanOrEqual(shares[0], 0.09)
    XCTAssertGreaterThanOrEqual(shares[1], 0.09)
    // Each arm's logged probability is the same for every request of a snapshot; it must match
    // how often the arm was actually served.
    for arm in 0..<2 {
      XCTAssertEqual(shares[arm], loggedSum[arm] / Double(loggedCount[arm]), accuracy: 0.02, "arm \(arm)")
    }
    let reported = set.report()[0].arms.map(\.servingProbability)
    XCTAssertEqual(reported[0] + reported[1], 1, accuracy: 1e-9)
    XCTAssertEqual(reported[1], shares[1], accuracy: 0.02)
    XCTAssertEqual(set.report()[0].mode, "thompson")
    XCTAssertEqual(set.report()[0].minSharePercent, 10)
  }

  func testTheSameSeedReplaysTheSameArm() throws {
    let ledger = ExperimentLedger()
    try feed(ledger, clicks: ["control": 50, "treatment": 55])
    let set = try experimentSet(config, ledger: ledger)
    for seed in 0..<UInt64(500) {
      let traits = RequestTraits(userID: "someone")
      XCTAssertEqual(set.assign(traits, seed: seed), set.assign(traits, seed: seed))
    }
  }

  func testWithoutDataArmsAreServedEvenly() throws {
    let set = try experimentSet(config)
    var treatment = 0
    for seed in 0..<UInt64(10_000) where set.assign(RequestTraits(userID: "u"), seed: seed)?.armIndex == 1 {
      treatment += 1
    }
    XCTAssertEqual(Double(treatment) / 10_000, 0.5, accuracy: 0.03)
    XCTAssertEqual(set.report()[0].arms.map(\.servingProbability)[0], 0.5, accuracy: 0.03)
  }

  func testThePosteriorFollowsNewCounts() throws {
    let ledger = ExperimentLedger()
    // A zero refresh interval: every report rebuilds the snapshot from the current counts.
    let set = ExperimentSet(
      config: try ExperimentsConfig(yaml: config, source: "t"), ledger: ledger, thompsonRefreshInterval: .zero)
    XCTAssertEqual(set.report()[0].arms[1].servingProbability, 0.5, accuracy: 0.03)
    try feed(ledger, clicks: ["control": 20, "treatment": 80])
    let treatment = set.report()[0].arms[1].servingProbability
    XCTAssertGreaterThan(treatment, 0.85)
    XCTAssertLessThanOrEqual(treatment, 0.9 + 1e-12, "min_share keeps 10% for the control")
  }

  func testBetaSamplerMoments() {
    var sampler = BetaSampler(seed: 42)
    let (alpha, beta) = (3.0, 9.0)
    let draws = (0..<50_000).map { _ in sampler.beta(alpha, beta) }
    let mean = draws.reduce(0, +) / Double(draws.count)
    let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count)
    XCTAssertEqual(mean, alpha / (alpha + beta), accuracy: 0.003)
    XCTAssertEqual(variance, alpha * beta / ((alpha + beta) * (alpha + beta) * (alpha + beta + 1)), accuracy: 0.001)
  }
}

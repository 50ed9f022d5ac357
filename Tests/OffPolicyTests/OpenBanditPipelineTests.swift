import Foundation
import XCTest

import OffPolicy

/// The estimators against Open Bandit Pipeline's on the same logged data (Tests/Fixtures/ope,
/// written by tools/ope_oracle.py with obp's IPS, SNIPS and DoublyRobust): equal to 1e-9.
final class OpenBanditPipelineTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Fixtures/ope").standardized

  private struct Fixture: Decodable {
    struct Slate: Decodable {
      var request_id: String
      var shown: [Int64]
      var clicked: [Bool]
      var shown_propensities: [Double]
      var candidate: [Int64]
      var candidate_propensities: [Double]
    }

    struct Numbers: Decodable {
      var ips: Double
      var snips: Double
      var dr: Double
      var rounds: Int
    }

    var candidate: String
    var logging_model: String
    var epsilon: Double
    var obp: Numbers
    var slates: [Slate]
  }

  private func fixture(_ name: String) throws -> Fixture {
    let data = try Data(contentsOf: Self.root.appendingPathComponent("\(name)/expected.json"))
    return try JSONDecoder().decode(Fixture.self, from: data)
  }

  private func slates(_ fixture: Fixture) -> [LoggedSlate] {
    fixture.slates.map {
      LoggedSlate(requestID: $0.request_id, shown: $0.shown, clicked: $0.clicked,
                  shownPropensities: $0.shown_propensities, candidate: $0.candidate,
                  candidatePropensities: $0.candidate_propensities)
    }
  }

  private func assertEqualToOBP(_ totals: SlateSums, _ expected: Fixture.Numbers, _ what: String) {
    XCTAssertEqual(Int(totals.rounds), expected.rounds, what)
    XCTAssertEqual(totals.inverseProbabilityWeighting!, expected.ips, accuracy: 1e-9, "IPS, \(what)")
    XCTAssertEqual(totals.selfNormalized!, expected.snips, accuracy: 1e-9, "SNIPS, \(what)")
    XCTAssertEqual(totals.doublyRobustEstimate!, expected.dr, accuracy: 1e-9, "DR, \(what)")
  }

  func testEpsilonGreedyLogsEqualOBP() throws {
    let fixture = try fixture("epsilon_greedy")
    let evaluation = Evaluation(slates: slates(fixture))
    assertEqualToOBP(evaluation.totals, fixture.obp, "from the fixture's slates")
    XCTAssertFalse(evaluation.hasMissingSupport)
    for estimate in [evaluation.inverseProbabilityWeighting, evaluation.selfNormalized, evaluation.doublyRobust] {
      let estimate = try XCTUnwrap(estimate)
      XCTAssertLessThanOrEqual(estimate.low, estimate.value)
      XCTAssertGreaterThanOrEqual(estimate.high, estimate.value)
    }
    XCTAssertGreaterThan(evaluation.effectiveSampleSize, 0)
  }

  /// The same numbers from the exposure and feedback logs: the propensities come from the logged
  /// greedy ranking and conditional propensities (EpsilonGreedyMarginals), the oracle's from
  /// enumerating every slate.
  func testEpsilonGreedyFromTheLogsEqualsOBP() throws {
    let fixture = try fixture("epsilon_greedy")
    let directory = Self.root.appendingPathComponent("epsilon_greedy")
    var logs = try OffPolicyLogs(exposureFiles: [directory.appendingPathComponent("exposures.jsonl").path],
                                 feedbackFiles: [directory.appendingPathComponent("feedback.jsonl").path])
    let groups = logs.groups(candidate: fixture.candidate)
    XCTAssertEqual(groups.map(\.loggingModel), [fixture.logging_model])
    XCTAssertEqual(logs.unusable, 0)
    let byID = Dictionary(uniqueKeysWithValues: slates(fixture).map { ($0.requestID, $0) })
    for slate in groups[0].slates {
      let expected = try XCTUnwrap(byID[slate.requestID])
      XCTAssertEqual(slate.shown, expected.shown)
      XCTAssertEqual(slate.clicked, expected.clicked)
      for (got, want) in zip(slate.shownPropensities + slate.candidatePropensities,
                             expected.shownPropensities + expected.candidatePropensities) {
        XCTAssertEqual(got, want, accuracy: 1e-12, slate.requestID)
      }
    }
    assertEqualToOBP(Evaluation(slates: groups[0].slates).totals, fixture.obp, "from the logs")
    // A candidate named without its version matches; another model matches nothing.
    XCTAssertEqual(logs.groups(candidate: "candidate").first?.slates.count, groups[0].slates.count)
    XCTAssertTrue(logs.groups(candidate: "candidate@3").isEmpty)
  }

  /// A greedy logging policy: the point estimates still equal OBP's, but the candidate shows items
  /// the policy never could, so the evaluation gives no estimate.
  func testGreedyLogsHaveMissingSupportAndNoEstimate() throws {
    let fixture = try fixture("greedy")
    let evaluation = Evaluation(slates: slates(fixture))
    assertEqualToOBP(evaluation.totals, fixture.obp, "greedy")
    XCTAssertTrue(evaluation.hasMissingSupport)
    XCTAssertNil(evaluation.inverseProbabilityWeighting)
    XCTAssertNil(evaluation.selfNormalized)
    XCTAssertNil(evaluation.doublyRobust)
    XCTAssertNotNil(evaluation.observed)

    let directory = Self.root.appendingPathComponent("greedy")
    let report = try OffPolicyReport.make(
      exposureFiles: [directory.appendingPathComponent("exposures.jsonl").path],
      feedbackFiles: [directory.appendingPathComponent("feedback.jsonl").path], candidate: fixture.candidate)
    let policy = try XCTUnwrap((report["logging_policies"] as? [[String: Any]])?.first)
    XCTAssertNil(policy["ips"])
    XCTAssertTrue((policy["warning"] as? String ?? "").hasPrefix("missing support"))
  }

  func testBootstrapIsDeterministicForASeed() throws {
    let slates = slates(try fixture("epsilon_greedy"))
    let first = Evaluation(slates: slates, bootstrap: Bootstrap(resamples: 200, seed: 7))
    let again = Evaluation(slates: slates, bootstrap: Bootstrap(resamples: 200, seed: 7))
    XCTAssertEqual(first.doublyRobust, again.doublyRobust)
  }
}

import Foundation
import XCTest

import Experiments

final class ExperimentLedgerTests: XCTestCase {
  let twoArms = singleExperiment(key: "exp", salt: "s1", arms: fixedArms([50, 50]))

  /// A user the set puts in `arm`.
  func assignment(_ set: ExperimentSet, arm: String, skip: Int = 0) throws -> Assignment {
    var found = 0
    for user in users() {
      if let assignment = set.assign(RequestTraits(userID: user), seed: 0), assignment.armName == arm {
        if found == skip { return assignment }
        found += 1
      }
    }
    throw XCTSkip("no user in \(arm)")
  }

  func testFeedbackJoinsAndCountsOncePerResponse() throws {
    let ledger = ExperimentLedger()
    let set = try experimentSet(twoArms, ledger: ledger)
    let arm0 = try assignment(set, arm: "arm0")
    expose(ledger, "r1", arm0, items: [10, 11, 12])
    expose(ledger, "r2", arm0, items: [10, 11, 12])

    let first = try ledger.recordFeedback(requestID: "r1", itemID: 11, kind: .click, value: 0)
    XCTAssertEqual(first, ExperimentLedger.FeedbackResult(experiment: "exp", arm: "arm0", duplicate: false))
    // The same event again is a duplicate; another item's click in the same response is not, but
    // the response has already counted its click.
    XCTAssertTrue(try ledger.recordFeedback(requestID: "r1", itemID: 11, kind: .click, value: 0).duplicate)
    XCTAssertFalse(try ledger.recordFeedback(requestID: "r1", itemID: 12, kind: .click, value: 0).duplicate)
    _ = try ledger.recordFeedback(requestID: "r1", itemID: 11, kind: .addToCart, value: 0)
    _ = try ledger.recordFeedback(requestID: "r1", itemID: 11, kind: .purchase, value: 20)
    _ = try ledger.recordFeedback(requestID: "r1", itemID: 12, kind: .purchase, value: 5.5)
    XCTAssertTrue(try ledger.recordFeedback(requestID: "r1", itemID: 12, kind: .purchase, value: 5.5).duplicate)

    let arm = set.report()[0].arms[0]
    XCTAssertEqual(arm.name, "arm0")
    XCTAssertEqual(arm.impressions, 2)
    XCTAssertEqual(arm.clicks, 1)
    XCTAssertEqual(arm.addToCarts, 1)
    XCTAssertEqual(arm.purchases, 1)
    XCTAssertEqual(arm.revenue, 25.5)
    XCTAssertEqual(arm.ctr, 0.5)
    XCTAssertEqual(arm.cvr, 0.5)
    XCTAssertEqual(arm.revenuePerImpression, 12.75)
    XCTAssertEqual(ledger.unjoinedFeedback, 0)
  }

  func testUnjoinableFeedbackIsRefused() throws {
    let ledger = ExperimentLedger(windowCapacity: 10)
    expose(ledger, "r1", nil, items: [1, 2])
    XCTAssertEqual(
      try ledger.recordFeedback(requestID: "r1", itemID: 2, kind: .click, value: 0),
      ExperimentLedger.FeedbackResult(experiment: "", arm: "", duplicate: false))
    XCTAssertThrowsError(try ledger.recordFeedback(requestID: "r9", itemID: 1, kind: .click, value: 0)) { error in
      guard case .unknownRequest(let message)? = error as? ExperimentLedger.FeedbackError else { return XCTFail("\(error)") }
      XCTAssertTrue(message.contains("\"r9\"") && message.contains("latest 10"), message)
    }
    XCTAssertThrowsError(try ledger.recordFeedback(requestID: "r1", itemID: 3, kind: .click, value: 0)) { error in
      guard case .itemNotInResponse(let message)? = error as? ExperimentLedger.FeedbackError else { return XCTFail("\(error)") }
      XCTAssertTrue(message.contains("item 3") && message.contains("2 items"), message)
    }
    XCTAssertEqual(ledger.unjoinedFeedback, 1, "only the unknown request: r1 joined, its item did not")
  }

  func testTheWindowForgetsTheOldestFirst() throws {
    let ledger = ExperimentLedger(windowCapacity: 3)
    XCTAssertEqual(ledger.windowCapacity, 3)
    for request in ["r1", "r2", "r3", "r4"] { expose(ledger, request, nil, items: [7]) }
    XCTAssertThrowsError(try ledger.recordFeedback(requestID: "r1", itemID: 7, kind: .click, value: 0))
    for request in ["r2", "r3", "r4"] {
      XCTAssertNoThrow(try ledger.recordFeedback(requestID: request, itemID: 7, kind: .click, value: 0))
    }
    // A request id served twice joins its newer response, and survives the older one's eviction.
    expose(ledger, "r3", nil, items: [8])  // evicts r2
    expose(ledger, "r5", nil, items: [7])  // evicts the first r3
    XCTAssertNoThrow(try ledger.recordFeedback(requestID: "r3", itemID: 8, kind: .click, value: 0))
    XCTAssertThrowsError(try ledger.recordFeedback(requestID: "r2", itemID: 7, kind: .click, value: 0))
  }

  func testCountersSurviveARebuildAndRestartWithANewSalt() throws {
    let ledger = ExperimentLedger()
    let set = try experimentSet(twoArms, ledger: ledger)
    expose(ledger, "r1", try assignment(set, arm: "arm1"))
    _ = try ledger.recordFeedback(requestID: "r1", itemID: 1, kind: .click, value: 0)

    // Same key and salt, arms reordered and reweighted: arm1 keeps its counts by name.
    let rebuilt = try experimentSet(
      singleExperiment(key: "exp", salt: "s1", arms: "[{name: arm1, model: mlp, weight: 30}, {name: arm0, model: mlp, weight: 70}]"),
      ledger: ledger)
    XCTAssertEqual(rebuilt.report()[0].arms[0].name, "arm1")
    XCTAssertEqual(rebuilt.report()[0].arms[0].impressions, 1)
    XCTAssertEqual(rebuilt.report()[0].arms[0].clicks, 1)
    // An exposure served under the old set still counts into the same counters.
    expose(ledger, "r2", try assignment(set, arm: "arm1", skip: 1))
    XCTAssertEqual(rebuilt.report()[0].arms[0].impressions, 2)

    let resalted = try experimentSet(singleExperiment(key: "exp", salt: "s2", arms: fixedArms([50, 50])), ledger: ledger)
    XCTAssertEqual(resalted.report()[0].arms.map(\.impressions), [0, 0])
  }

  func testReportStatisticsAndHoldoutRow() throws {
    let ledger = ExperimentLedger()
    let set = try experimentSet(singleExperiment(holdout: 10, arms: fixedArms([50, 50])), ledger: ledger)
    var clicked = ["arm0": 0, "arm1": 0, "holdout": 0]
    let wanted = ["arm0": 20, "arm1": 30, "holdout": 5]
    var shown = ["arm0": 0, "arm1": 0, "holdout": 0]
    for (index, user) in users().enumerated() {
      guard let assignment = set.assign(RequestTraits(userID: user), seed: 0) else { continue }
      let arm = assignment.armName
      guard shown[arm]! < (arm == "holdout" ? 100 : 1000) else { continue }
      shown[arm]! += 1
      expose(ledger, "r\(index)", assignment)
      if clicked[arm]! < wanted[arm]! {
        clicked[arm]! += 1
        _ = try ledger.recordFeedback(requestID: "r\(index)", itemID: 2, kind: .click, value: 0)
      }
    }
    let report = set.report()[0]
    XCTAssertEqual(report.key, "exp")
    XCTAssertEqual(report.salt, "s1")
    XCTAssertEqual(report.mode, "fixed")
    XCTAssertEqual(report.match, "all requests")
    XCTAssertEqual(report.control, "arm0")
    XCTAssertEqual(report.arms.map(\.name), ["arm0", "arm1", "holdout"])
    XCTAssertEqual(report.arms.map(\.holdout), [false, false, true])
    XCTAssertEqual(report.arms.map(\.model), ["mlp@1", "mlp@2", ""])
    XCTAssertEqual(report.arms.map(\.impressions), [1000, 1000, 100])
    XCTAssertEqual(report.arms.map(\.clicks), [20, 30, 5])
    XCTAssertEqual(report.arms[1].ctr, 0.03)
    XCTAssertEqual(report.arms[0].ctrZ, 0)
    XCTAssertEqual(report.arms[0].ctrPValue, 1)
    // arm1 (30/1000) against control (20/1000); values from Python (math.erfc).
    XCTAssertEqual(report.arms[1].ctrZ, 1.4322297480788655, accuracy: 1e-9)
    XCTAssertEqual(report.arms[1].ctrPValue, 0.15207808079297527, accuracy: 1e-9)
    XCTAssertLessThan(report.arms[0].ctrLow, 0.02)
    XCTAssertGreaterThan(report.arms[0].ctrHigh, 0.02)
    XCTAssertEqual(report.arms.map(\.servingProbability), [0.45, 0.45, 0.1])
    XCTAssertEqual(report.arms[2].trafficShare, 100.0 / 2100, accuracy: 1e-12)
  }

  func testConcurrentExposuresAndFeedbackAreAllCounted() throws {
    let ledger = ExperimentLedger(windowCapacity: 100_000)
    let set = try experimentSet(singleExperiment(arms: fixedArms([100])), ledger: ledger)
    let threads = 8
    let perThread = 2000
    DispatchQueue.concurrentPerform(iterations: threads) { thread in
      for index in 0..<perThread {
        let request = "t\(thread)-\(index)"
        expose(ledger, request, set.assign(RequestTraits(userID: request), seed: UInt64(index)))
        _ = try? ledger.recordFeedback(requestID: request, itemID: 1, kind: .click, value: 0)
        if index % 100 == 0 { _ = set.report() }
      }
    }
    let arm = set.report()[0].arms[0]
    XCTAssertEqual(arm.impressions, threads * perThread)
    XCTAssertEqual(arm.clicks, threads * perThread)
    XCTAssertEqual(ledger.unjoinedFeedback, 0)
  }

  func testShadowAgreementIsAggregatedPerExperiment() throws {
    let ledger = ExperimentLedger()
    let set = try experimentSet(
      singleExperiment(extra: "    shadow: sasrec", arms: fixedArms([100])), ledger: ledger)
    let served: [Int64] = [1, 2, 3, 4]
    for shadow: [Int64] in [[1, 2, 3, 4], [4, 3, 9, 8], [9, 8, 7, 6]] {
      served.withUnsafeBufferPointer { served in
        shadow.withUnsafeBufferPointer { ledger.recordShadow(experimentKey: "exp", salt: "s1", served: served, shadow: $0) }
      }
    }
    ledger.recordShadowDropped(experimentKey: "exp", salt: "s1")
    ledger.recordShadowFailed(experimentKey: "exp", salt: "s1")
    ledger.recordShadowFailed(experimentKey: "exp", salt: "other salt")
    let shadow = set.report()[0].shadow
    XCTAssertEqual(shadow.model, "sasrec")
    XCTAssertEqual(shadow.compared, 3)
    XCTAssertEqual(shadow.dropped, 1)
    XCTAssertEqual(shadow.failed, 1)
    XCTAssertEqual(shadow.meanOverlapAtK, (1 + 0.5 + 0) / 3, accuracy: 1e-12)
    // tau 1 for the identical list, -1 for [4, 3] reversed; the disjoint list shares nothing.
    XCTAssertEqual(shadow.rankCorrelationCount, 2)
    XCTAssertEqual(shadow.meanRankCorrelation, 0, accuracy: 1e-12)
  }
}

final class LedgerSnapshotTests: XCTestCase {
  func testASnapshotRestoresCountersAndTheWindow() throws {
    let yaml = singleExperiment(key: "exp", salt: "s1", arms: fixedArms([50, 50]))
    let ledger = ExperimentLedger(windowCapacity: 4)
    let set = try experimentSet(yaml, ledger: ledger)
    let assignment = try XCTUnwrap(set.assign(RequestTraits(userID: "user-1"), seed: 0))
    for index in 0..<6 { expose(ledger, "r\(index)", assignment, items: [7, 8]) }
    _ = try ledger.recordFeedback(requestID: "r5", itemID: 8, kind: .purchase, value: 2.5)
    let snapshot = ledger.snapshot()
    XCTAssertEqual(snapshot.window.map(\.requestID), ["r2", "r3", "r4", "r5"])
    let decoded = try JSONDecoder().decode(LedgerSnapshot.self, from: try JSONEncoder().encode(snapshot))
    XCTAssertEqual(decoded, snapshot)

    let restored = ExperimentLedger(windowCapacity: 3)
    try restored.restore(decoded)
    let again = try experimentSet(yaml, ledger: restored)
    XCTAssertEqual(again.report()[0].arms.map(\.impressions), set.report()[0].arms.map(\.impressions))
    XCTAssertEqual(again.report()[0].arms.map(\.revenue), set.report()[0].arms.map(\.revenue))
    // The window kept its newest 3 and what they had seen.
    XCTAssertTrue(try restored.recordFeedback(requestID: "r5", itemID: 8, kind: .purchase, value: 2.5).duplicate)
    XCTAssertFalse(try restored.recordFeedback(requestID: "r3", itemID: 7, kind: .click, value: 0).duplicate)
    XCTAssertThrowsError(try restored.recordFeedback(requestID: "r2", itemID: 7, kind: .click, value: 0))
    XCTAssertEqual(again.report()[0].arms.map(\.clicks).reduce(0, +), 1)
  }
}

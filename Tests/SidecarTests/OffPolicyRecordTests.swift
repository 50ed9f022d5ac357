import Foundation
import XCTest

import Sidecar

final class OffPolicyRecordTests: XCTestCase {
  func testTheRecordLineNamesTheRequestAndBothRankings() {
    var out: [UInt8] = []
    let record = OffPolicyRecord(candidate: "popularity@2", ranking: [5, 9], loggingRanking: [9, 5, 2])
    ExposureJSON.appendLine(
      Exposure(requestID: "r-7", timestamp: Date(timeIntervalSince1970: 1_764_000_000), userID: "", surface: "",
               experiment: "", arm: "", bucket: -1, armProbability: 1, forced: false, model: "", modelVersion: 0,
               itemIDs: [], scores: [], propensities: [], shadow: "", offPolicy: record),
      to: &out)
    XCTAssertEqual(String(decoding: out, as: UTF8.self), #"""
      {"ts":"2025-11-24T16:00:00.000Z","request_id":"r-7","ope":{"candidate":"popularity@2","ranking":[5,9],\#
      "logging_ranking":[9,5,2]}}

      """#)
    out.removeAll()
    OffPolicyRecord(candidate: "m@1", ranking: [], loggingRanking: []).appendLine(
      requestID: "r", timestamp: Date(timeIntervalSince1970: 0), to: &out)
    XCTAssertFalse(String(decoding: out, as: UTF8.self).contains("logging_ranking"))  // deterministic: none
  }

  /// topK's order: highest score first, ties to the earlier candidate, NaN last.
  func testGreedyOrderFollowsTopK() {
    let order = OffPolicyRecord.greedyOrder(
      items: [30, 10, 20, 40, 50], scores: [1, 2, 1, .nan, 3], candidateOrder: [10, 20, 30, 40, 50])
    XCTAssertEqual(order, [50, 10, 20, 30, 40])
  }
}

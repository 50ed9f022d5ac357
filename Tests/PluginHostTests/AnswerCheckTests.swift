import PluginHost
import RecSysStatus
import XCTest

/// The one check of a plugin's answer: every way a plugin can break the contract becomes a typed
/// error naming the model and plugin, never a clamp or a crash.
final class AnswerCheckTests: XCTestCase {
  private func model(broken: Int) throws -> ConstantModel {
    try ConstantModel(Plugin.load(path: CPluginBuild.build("constant-broken-\(broken)", flags: ["-DBROKEN=\(broken)"])))
  }

  func testEachBrokenAnswerIsRefusedWithItsReasonAndThePluginNamed() throws {
    let cases: [(broken: Int, reason: PluginAnswerError.Reason, words: String)] = [
      (1, .brokenPlugin, "returned 3 items and 0 unknown ids for room of 2"),
      (2, .brokenPlugin, "returned item 987654321, which is not among the request's candidates"),
      (3, .brokenPlugin, "returned status 42, which recsys_plugin.h does not define"),
      (4, .nonFiniteScore, "nan for item 10: the request's candidate_features or context values are too large"),
    ]
    for (broken, reason, words) in cases {
      let model = try model(broken: broken)
      XCTAssertThrowsError(try model.instance.recommend(ModelRequest(candidateItemIDs: [10, 20, 30], topK: 2)),
                           "BROKEN=\(broken)") { error in
        guard let error = error as? PluginAnswerError else { return XCTFail("BROKEN=\(broken): \(error)") }
        XCTAssertEqual(error.reason, reason, "BROKEN=\(broken)")
        XCTAssertEqual(error.status, reason == .brokenPlugin ? .internal : .invalidArgument)
        XCTAssertTrue(error.description.contains(words), "BROKEN=\(broken): \(error)")
        XCTAssertTrue(error.description.contains("constant@1"), "names the model: \(error)")
        if reason == .brokenPlugin {
          XCTAssertTrue(error.description.contains("plugin constant 1.0.0"), "names the plugin: \(error)")
        }
      }
    }
  }

  func testAWellBehavedAnswerFillsTheCallersBuffersInPlace() throws {
    let model = try ConstantModel(Plugin.load(path: CPluginBuild.build("constant", flags: [])))
    let history: [Int64] = [20]
    let types: [Int32] = [1]
    let candidates: [Int64] = [20, 7, 30]
    try history.withUnsafeBufferPointer { history in
      try types.withUnsafeBufferPointer { types in
        try candidates.withUnsafeBufferPointer { candidates in
          let request = BorrowedRequest(
            historyItemIDs: history, historyTypes: types, candidateItemIDs: candidates,
            candidateFeatures: UnsafeBufferPointer(start: nil, count: 0), context: UnsafeBufferPointer(start: nil, count: 0),
            topK: 2, excludeHistory: false, seed: 1)
          try AnswerBuffers.withTemporary(topK: 2, candidates: candidates.count) { buffers in
            let answer = try model.instance.recommend(request, into: buffers)
            XCTAssertEqual(Array(answer.itemIDs), [20, 30])
            XCTAssertEqual(answer.itemIDs.baseAddress, UnsafePointer(buffers.itemIDs.baseAddress), "written in place")
            XCTAssertEqual(Array(answer.unknownItemIDs), [7])
          }
        }
      }
    }
  }

  func testAPluginStatusInTheTablePassesThroughWithItsMessage() throws {
    let model = try ConstantModel(Plugin.load(path: CPluginBuild.build("constant-refuse", flags: ["-DREFUSE"])))
    XCTAssertThrowsError(try model.instance.recommend(ModelRequest(candidateItemIDs: [10], topK: 1))) { error in
      XCTAssertEqual((error as? PluginError)?.code, .invalidArgument, "\(error)")
      XCTAssertEqual((error as? PluginError)?.message, "refused by request")
    }
  }
}

import Foundation
import FuzzTargets
import XCTest

/// The recommend-request target must reach the plugins, or fuzzing it proves little.
final class RecommendRequestTargetTests: XCTestCase {
  func testGoldenSeedsAreServed() throws {
    let folder = CorpusReplayTests.fuzzRoot.appendingPathComponent("corpus/recommend-request")
    let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    var served = 0
    for name in names where ["mlp-", "lstm-", "sasrec-", "dqn-", "routed-", "explain-"].contains(where: name.hasPrefix) {
      let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
      let (code, message) = RecommendRequestTarget.answer(bytes)
      XCTAssertEqual(code, 0, "\(name): \(message)")
      served += 1
    }
    XCTAssertGreaterThanOrEqual(served, 16)
  }

  func testBytesThatDoNotParseAreInvalidArgument() {
    // Field 1 (request_id) announced with 100 bytes, then the body ends.
    let (code, message) = RecommendRequestTarget.answer([0x0a, 100, 0x41])
    XCTAssertEqual(code, 3)
    XCTAssertTrue(message.contains("is not a valid recsys.v1.RecommendRequest"), message)
  }

  func testDuplicateCandidateIsRefusedNamingBothPositions() {
    // model "mlp" (field 9), top_k 2 (field 7), candidates [5, 7, 5] packed (field 4).
    var bytes: [UInt8] = [0x4a, 3] + Array("mlp".utf8) + [0x38, 2]
    bytes += [0x22, 3, 5, 7, 5]
    let (code, message) = RecommendRequestTarget.answer(bytes)
    XCTAssertEqual(code, 3)
    XCTAssertTrue(message.contains("candidate_item_ids[2] is 5, which already appears at candidate_item_ids[0]"), message)
  }
}

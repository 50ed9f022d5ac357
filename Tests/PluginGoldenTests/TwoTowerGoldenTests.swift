import XCTest

/// The `two_tower` plugin, loaded from its shared library, against PyTorch
/// (tools/recsys_ref/two_tower.py via tools/make_fixtures.py).
final class TwoTowerGoldenTests: XCTestCase {
  /// Candidate requests (unknown candidates, exclusion, history rules) and whole-catalog requests
  /// (the item tower precomputed at load, then the shared catalog scan) both match PyTorch to 1e-4.
  func testMatchesPyTorchInCandidateAndWholeCatalogModes() throws {
    let fixture = try GoldenFixture("two_tower")
    XCTAssertTrue(fixture.cases.contains { $0.candidate_item_ids.isEmpty }, "no whole-catalog case")
    XCTAssertTrue(fixture.cases.contains { !$0.candidate_item_ids.isEmpty }, "no candidate case")
    let worst = try fixture.checkAllCases()
    print("two_tower: max abs error vs PyTorch \(worst)")
  }

  func testRefusesItemFeatureDimTheWeightsDoNotHold() throws {
    XCTAssertNil(try GoldenFixture.createFailure("two_tower") { _ in }, "the fixture as is must be accepted")
    let none = try GoldenFixture.createFailure("two_tower") { $0["item_feature_dim"] = 0 }
    XCTAssertTrue(none?.contains("item_feature_dim") == true, none ?? "created")
    let more = try GoldenFixture.createFailure("two_tower") { $0["item_feature_dim"] = 3 }
    XCTAssertTrue(more?.contains("item_features") == true, more ?? "created")
  }

  func testQuantizedAndApproximateRetrievalLoad() throws {
    XCTAssertNil(try GoldenFixture.createFailure("two_tower") { $0["retrieval"] = "quantized" })
    XCTAssertNil(try GoldenFixture.createFailure("two_tower") {
      $0["retrieval"] = "approximate"
      $0["retrieval_lists"] = 4
    })
    let tooManyLists = try GoldenFixture.createFailure("two_tower") {
      $0["retrieval"] = "approximate"
      $0["retrieval_lists"] = 301
    }
    XCTAssertTrue(tooManyLists?.contains("retrieval_lists") == true, tooManyLists ?? "created")
  }

  func testCancelledCallsStop() throws {
    try GoldenFixture("two_tower").checkCancelledCallsStop()
  }

  func testConcurrentRequestsGetTheSerialAnswers() throws {
    try GoldenFixture("two_tower").checkConcurrentAnswersMatchSerial()
  }
}

import XCTest

/// The `sasrec` plugin, loaded from its shared library, against PyTorch (tools/make_fixtures.py):
/// candidate and whole-catalog cases, history rules, exclude_history.
final class SASRecGoldenTests: XCTestCase {
  func testTwoBlocksTwoHeadsMatchPyTorch() throws {
    let worst = try GoldenFixture("sasrec").checkAllCases()
    print("sasrec: max abs error vs PyTorch \(worst)")
  }

  func testOneBlockOneHeadMatchesPyTorch() throws {
    let worst = try GoldenFixture("sasrec_1block").checkAllCases()
    print("sasrec_1block: max abs error vs PyTorch \(worst)")
  }

  func testSweepShapeFourHeadsThreeBlocksMatchesPyTorch() throws {
    let worst = try GoldenFixture("sasrec_sweep_heads4_blocks3").checkAllCases()
    print("sasrec_sweep_heads4_blocks3: max abs error vs PyTorch \(worst)")
  }

  func testRefusesManifestsTheWeightsDoNotFit() throws {
    // d = 16 in the fixture.
    XCTAssertNil(try GoldenFixture.createFailure("sasrec") { _ in }, "the fixture as is must be accepted")
    let heads = try GoldenFixture.createFailure("sasrec") { $0["num_heads"] = 3 }
    XCTAssertTrue(heads?.contains("divide") == true, heads ?? "created")
    let blocks = try GoldenFixture.createFailure("sasrec") { $0["num_blocks"] = 1 }
    XCTAssertTrue(blocks?.contains("num_blocks = 1") == true, blocks ?? "created")
    let positions = try GoldenFixture.createFailure("sasrec") { $0["max_history"] = 12 }
    XCTAssertTrue(positions?.contains("pos_emb.weight") == true, positions ?? "created")
  }

  func testCancelledCallsStop() throws {
    try GoldenFixture("sasrec").checkCancelledCallsStop()
  }

  func testIgnoresContextAndCandidateFeatures() throws {
    try GoldenFixture("sasrec").checkIgnoresContextAndCandidateFeatures()
  }

  func testConcurrentRequestsGetTheSerialAnswers() throws {
    try GoldenFixture("sasrec").checkConcurrentAnswersMatchSerial()
  }
}

import XCTest

/// The `mlp` plugin, loaded from its shared library, against PyTorch (tools/make_fixtures.py).
final class MLPGoldenTests: XCTestCase {
  func testMatchesPyTorchWithContextAndCandidateFeatures() throws {
    let worst = try GoldenFixture("mlp").checkAllCases()
    print("mlp: max abs error vs PyTorch \(worst)")
  }

  func testMatchesPyTorchWithoutContextOrFeatures() throws {
    let worst = try GoldenFixture("mlp_nofeat").checkAllCases()
    print("mlp_nofeat: max abs error vs PyTorch \(worst)")
  }
}

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

  func testSweepShapeF32MatchesPyTorch() throws {
    let worst = try GoldenFixture("mlp_sweep_F32").checkAllCases()
    print("mlp_sweep_F32: max abs error vs PyTorch \(worst)")
  }
}

import XCTest

/// Explanations (issue 17) of the `mlp` plugin against the PyTorch reference occlusion
/// (tools/recsys_ref/explain.py).
final class MLPExplanationTests: XCTestCase {
  func testExplanationsMatchPyTorchOcclusion_mlp() throws {
    let worst = try GoldenFixture("mlp").checkExplanations(attention: false)
    print("mlp: explanations, max abs error vs PyTorch \(worst)")
  }

  func testExplanationsMatchPyTorchOcclusion_mlp_nofeat() throws {
    let worst = try GoldenFixture("mlp_nofeat").checkExplanations(attention: false)
    print("mlp_nofeat: explanations, max abs error vs PyTorch \(worst)")
  }

  func testExplanationsMatchPyTorchOcclusion_mlp_sweep_F32() throws {
    let worst = try GoldenFixture("mlp_sweep_F32").checkExplanations(attention: false)
    print("mlp_sweep_F32: explanations, max abs error vs PyTorch \(worst)")
  }
}

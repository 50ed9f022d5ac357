import XCTest

/// Explanations (issue 17) of the `dqn` plugin against the PyTorch reference occlusion
/// (tools/recsys_ref/explain.py).
final class DQNExplanationTests: XCTestCase {
  func testExplanationsMatchPyTorchOcclusion_dqn() throws {
    let worst = try GoldenFixture("dqn").checkExplanations(attention: false)
    print("dqn: explanations, max abs error vs PyTorch \(worst)")
  }
}

import XCTest

/// Explanations (issue 17) of the `lstm` plugin against the PyTorch reference occlusion
/// (tools/recsys_ref/explain.py).
final class LSTMExplanationTests: XCTestCase {
  func testExplanationsMatchPyTorchOcclusion_lstm() throws {
    let worst = try GoldenFixture("lstm").checkExplanations(attention: false)
    print("lstm: explanations, max abs error vs PyTorch \(worst)")
  }

  func testExplanationsMatchPyTorchOcclusion_lstm_2layer() throws {
    let worst = try GoldenFixture("lstm_2layer").checkExplanations(attention: false)
    print("lstm_2layer: explanations, max abs error vs PyTorch \(worst)")
  }

  func testExplanationsMatchPyTorchOcclusion_lstm_sweep_layers2() throws {
    let worst = try GoldenFixture("lstm_sweep_layers2").checkExplanations(attention: false)
    print("lstm_sweep_layers2: explanations, max abs error vs PyTorch \(worst)")
  }
}

import XCTest

/// Explanations (issue 17) of the `sasrec` plugin against the PyTorch reference occlusion
/// (tools/recsys_ref/explain.py), and the last block's attention against nn.MultiheadAttention's.
final class SASRecExplanationTests: XCTestCase {
  func testExplanationsMatchPyTorchOcclusion_sasrec() throws {
    let worst = try GoldenFixture("sasrec").checkExplanations(attention: true)
    print("sasrec: explanations, max abs error vs PyTorch \(worst)")
  }

  func testExplanationsMatchPyTorchOcclusion_sasrec_1block() throws {
    let worst = try GoldenFixture("sasrec_1block").checkExplanations(attention: true)
    print("sasrec_1block: explanations, max abs error vs PyTorch \(worst)")
  }

  func testExplanationsMatchPyTorchOcclusion_sasrec_sweep_heads4_blocks3() throws {
    let worst = try GoldenFixture("sasrec_sweep_heads4_blocks3").checkExplanations(attention: true)
    print("sasrec_sweep_heads4_blocks3: explanations, max abs error vs PyTorch \(worst)")
  }
}

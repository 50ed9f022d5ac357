import Foundation
import XCTest

/// mlp's layer-1 item-block cache (model.json `layer1_item_cache`, plugins/MLP/ItemBlockCache.swift):
/// forced on and off, every fixture still matches PyTorch, scores and explanations ("auto", the
/// default, builds it for `mlp` and `mlp_nofeat` (d 16, h1 <= 2d) and not for `mlp_sweep_F32` (h1 256)).
final class MLPItemBlockCacheTests: XCTestCase {
  static let fixtures = ["mlp", "mlp_nofeat", "mlp_sweep_F32"]

  func testForcedOnAndOffMatchPyTorch() throws {
    for name in Self.fixtures {
      for setting in ["on", "off"] {
        let fixture = try GoldenFixture(name, manifestChanges: ["layer1_item_cache": setting])
        let worst = try fixture.checkAllCases()
        print("\(name), layer1_item_cache \(setting): max abs error vs PyTorch \(worst)")
      }
    }
  }

  func testForcedOnAndOffExplainLikePyTorch() throws {
    for setting in ["on", "off"] {
      _ = try GoldenFixture("mlp", manifestChanges: ["layer1_item_cache": setting]).checkExplanations(attention: false)
    }
  }

  /// On and off score every candidate alike (the cached sums are only reassociated).
  func testOnAndOffAgree() throws {
    let on = try GoldenFixture("mlp_sweep_F32", manifestChanges: ["layer1_item_cache": "on"])
    let off = try GoldenFixture("mlp_sweep_F32", manifestChanges: ["layer1_item_cache": "off"])
    var compared = 0
    for request in on.cases where on.expectedRejection(request) == nil && !request.candidate_item_ids.isEmpty {
      compared += 1
      let every = request.candidate_item_ids.count
      let a = try on.recommend(request, topK: every)
      let b = try off.recommend(request, topK: every)
      XCTAssertEqual(a.itemIDs, b.itemIDs, request.name)
      // 1e-5, relative above 1: scores reach ~30 here (a float step is 2e-6), and the on path sums the
      // feature block per element in the gather (off: a GEMM), so it rounds differently.
      for (x, y) in zip(a.scores, b.scores) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), request.name) }
    }
    XCTAssertGreaterThan(compared, 0)
  }

  func testUnknownSettingIsRefusedWithTheKeyNamed() throws {
    let version = GoldenFixture.root.appendingPathComponent("mlp/model/1")
    var manifest = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: version.appendingPathComponent("model.json"))) as? [String: Any])
    for bad: Any in ["yes", true, 1] {
      manifest["layer1_item_cache"] = bad
      XCTAssertThrowsError(
        try DQNTestStore(manifest: manifest, weights: Data(contentsOf: version.appendingPathComponent("weights.safetensors")))
      ) { error in
        XCTAssert("\(error)".contains("layer1_item_cache"), "\(error)")
      }
    }
  }
}

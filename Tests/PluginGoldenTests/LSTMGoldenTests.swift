import RecSysStatus
import Foundation
import PluginHost
import SafeTensors
import XCTest

/// The `lstm` plugin, loaded from its shared library, against PyTorch (tools/make_fixtures.py):
/// candidate and whole-catalog cases, history rules, exclude_history.
final class LSTMGoldenTests: XCTestCase {
  func testOneLayerMatchesPyTorch() throws {
    let worst = try GoldenFixture("lstm").checkAllCases()
    print("lstm: max abs error vs PyTorch \(worst)")
  }

  func testTwoLayersMatchPyTorch() throws {
    let worst = try GoldenFixture("lstm_2layer").checkAllCases()
    print("lstm_2layer: max abs error vs PyTorch \(worst)")
  }

  func testSweepShapeTwoLayersOf64MatchesPyTorch() throws {
    let worst = try GoldenFixture("lstm_sweep_layers2").checkAllCases()
    print("lstm_sweep_layers2: max abs error vs PyTorch \(worst)")
  }

  func testRefusesNumLayersTheWeightsDoNotHold() throws {
    XCTAssertNil(try GoldenFixture.createFailure("lstm") { _ in }, "the fixture as is must be accepted")
    let tooMany = try GoldenFixture.createFailure("lstm") { $0["num_layers"] = 2 }
    XCTAssertTrue(tooMany?.contains("num_layers = 2") == true, tooMany ?? "created")
    let tooFew = try GoldenFixture.createFailure("lstm_2layer") { $0["num_layers"] = 1 }
    XCTAssertTrue(tooFew?.contains("num_layers = 1") == true, tooFew ?? "created")
  }

  func testCancelledCallsStop() throws {
    try GoldenFixture("lstm").checkCancelledCallsStop()
  }

  func testIgnoresContextAndCandidateFeatures() throws {
    try GoldenFixture("lstm").checkIgnoresContextAndCandidateFeatures()
  }

  func testRefusesUnknownEventType() throws {
    let fixture = try GoldenFixture("lstm")
    var request = try XCTUnwrap(fixture.cases.first { !$0.history_item_ids.isEmpty })
    request.history_types[0] = 4
    XCTAssertThrowsError(try fixture.recommend(request)) { error in
      XCTAssertEqual((error as? PluginError)?.code, .invalidArgument, "\(error)")
    }
  }

  func testConcurrentRequestsGetTheSerialAnswers() throws {
    try GoldenFixture("lstm_2layer").checkConcurrentAnswersMatchSerial()
  }
}

// Helpers shared with SASRecGoldenTests.
extension GoldenFixture {
  /// Offers fixture `name`'s weights, with its model.json edited, to the kind's plugin through the
  /// plugin host (tensor-spec check, then the plugin's create()); returns why the version was
  /// refused (nil: an instance was created).
  static func createFailure(_ name: String, editingManifest edit: (inout [String: Any]) -> Void) throws -> String? {
    let version = root.appendingPathComponent("\(name)/model/1")
    let text = try Data(contentsOf: version.appendingPathComponent("model.json"))
    var manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: text) as? [String: Any])
    let plugin = try XCTUnwrap(plugins.plugin(forKind: try XCTUnwrap(manifest["kind"] as? String)))
    edit(&manifest)
    let json = String(decoding: try JSONSerialization.data(withJSONObject: manifest), as: UTF8.self)
    let weights = try SafeTensorsFile(path: version.appendingPathComponent("weights.safetensors").path)
    let views = weights.tensors.map { tensor in
      TensorView(name: tensor.name, dtype: tensor.dtype.rawValue, shape: tensor.shape,
                 data: tensor.data.baseAddress, byteCount: tensor.data.count)
    }
    do {
      _ = try plugin.createInstance(manifestJSON: json, tensors: views, owner: weights)
      return nil
    } catch {
      return "\(error)"
    }
  }

  /// Sequence kinds take no context or candidate features: a request that sends some gets the
  /// same answer as without.
  func checkIgnoresContextAndCandidateFeatures(file: StaticString = #filePath, line: UInt = #line) throws {
    for request in cases {
      var noisy = request
      noisy.context = [1, -2, 3]
      noisy.candidate_features = (0..<(2 * request.candidate_item_ids.count)).map { Float($0) }
      let plain = try recommend(request), sent = try recommend(noisy)
      XCTAssertEqual(sent.itemIDs, plain.itemIDs, "\(name)/\(request.name)", file: file, line: line)
      XCTAssertEqual(sent.scores, plain.scores, "\(name)/\(request.name)", file: file, line: line)
      XCTAssertEqual(sent.unknownItemIDs, plain.unknownItemIDs, "\(name)/\(request.name)", file: file, line: line)
    }
  }

  /// Instances are read-only: every case, run from several threads at once on one instance,
  /// gets exactly the answer it gets alone (cases the kind refuses are left out).
  func checkConcurrentAnswersMatchSerial(file: StaticString = #filePath, line: UInt = #line) throws {
    let cases = self.cases.filter { expectedRejection($0) == nil }
    let serial = try cases.map { try recommend($0) }
    let lock = NSLock()
    var mismatches: [String] = []
    DispatchQueue.concurrentPerform(iterations: 8) { worker in
      for round in 0..<20 {
        for (index, request) in cases.enumerated() {
          let answer = try? recommend(request)
          if answer?.itemIDs != serial[index].itemIDs || answer?.scores != serial[index].scores
            || answer?.unknownItemIDs != serial[index].unknownItemIDs
          {
            lock.withLock { mismatches.append("worker \(worker) round \(round): \(request.name)") }
          }
        }
      }
    }
    XCTAssertEqual(mismatches, [], "\(name): concurrent answers differ from serial ones", file: file, line: line)
  }
}

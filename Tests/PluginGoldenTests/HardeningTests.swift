import Foundation
import PluginHost
import SafeTensors
import XCTest

/// Issue 13 against every bundled plugin: hyperparameters out of range, or not whole numbers, are
/// refused with the key named; a tensor the model never reads is refused by name. The golden
/// fixtures themselves must still load (their own tests check they still match PyTorch).
final class HardeningTests: XCTestCase {
  static let integerKeys = [
    "mlp": ["context_dim", "candidate_feature_dim", "max_history"],
    "mlp_nofeat": ["context_dim", "candidate_feature_dim", "max_history"],
    "lstm": ["num_layers", "max_history"],
    "sasrec": ["num_blocks", "num_heads", "max_history"],
    "dqn": ["context_dim", "max_history"],
  ]

  func testEveryFixtureLoadsAsIs() throws {
    for fixture in Self.integerKeys.keys.sorted() + ["lstm_2layer", "sasrec_1block"] {
      XCTAssertNil(try GoldenFixture.createFailure(fixture) { _ in }, fixture)
    }
  }

  func testOutOfRangeHyperparametersAreRefusedWithTheKeyNamed() throws {
    let values: [Any] = [-1, 1 << 40, 1 << 62, Int.max, 1e300, 0.5, true, "4", ["n": 4], [4], 100_001 * 1_000]
    for (fixture, keys) in Self.integerKeys.sorted(by: { $0.key < $1.key }) {
      for key in keys {
        for value in values {
          let failure = try GoldenFixture.createFailure(fixture) { $0[key] = value }
          XCTAssertTrue(failure?.contains("\"\(key)\"") == true, "\(fixture) \(key)=\(value): \(failure ?? "created")")
        }
      }
    }
  }

  func testDQNEpsilonOutOfRangeIsRefused() throws {
    for value: Any in [1e300, -1, 2, "0.1", true] {
      let failure = try GoldenFixture.createFailure("dqn") { $0["epsilon"] = value }
      XCTAssertTrue(failure?.contains("\"epsilon\"") == true, "epsilon=\(value): \(failure ?? "created")")
    }
  }

  func testATensorTheModelNeverReadsIsRefused() throws {
    // Names the host's specs accept (patterns such as mlp.{n}.bias) but no layer of the model reads.
    let strays = [("mlp", "mlp.6.bias", "mlp.4.bias"), ("mlp_nofeat", "mlp.8.bias", "mlp.2.bias"),
                  ("dqn", "state.8.bias", "state.2.bias")]
    for (fixture, stray, copyOf) in strays {
      let failure = try GoldenFixture.createFailure(fixture, addingCopyOf: copyOf, as: stray)
      XCTAssertTrue(failure?.contains("tensor \"\(stray)\" is unexpected") == true, "\(fixture): \(failure ?? "created")")
    }
  }
}

extension GoldenFixture {
  /// Creates the fixture's model with one more tensor: `source`'s bytes under the name `name`.
  static func createFailure(_ fixture: String, addingCopyOf source: String, as name: String) throws -> String? {
    let version = root.appendingPathComponent("\(fixture)/model/1")
    let json = try String(contentsOf: version.appendingPathComponent("model.json"), encoding: .utf8)
    let weights = try SafeTensorsFile(path: version.appendingPathComponent("weights.safetensors").path)
    let kind = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["kind"] as? String)
    let plugin = try XCTUnwrap(plugins.plugin(forKind: kind))
    var views = weights.tensors.map { tensor in
      TensorView(name: tensor.name, dtype: tensor.dtype.rawValue, shape: tensor.shape,
                 data: tensor.data.baseAddress, byteCount: tensor.data.count)
    }
    let copied = try XCTUnwrap(weights.tensor(named: source), "\(fixture) has no \(source)")
    views.append(TensorView(name: name, dtype: copied.dtype.rawValue, shape: copied.shape,
                            data: copied.data.baseAddress, byteCount: copied.data.count))
    do {
      _ = try plugin.createInstance(manifestJSON: json, tensors: views, owner: weights)
      return nil
    } catch {
      return "\(error)"
    }
  }
}

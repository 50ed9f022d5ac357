import Foundation
import Logging
import ModelStore
import PluginHost
import RecSysStatus
import XCTest

/// The registry and its loader over a real store folder and the built plugins: what serves, what
/// each refusal's status is, and a version the loader refuses (it never serves, and says why).
final class ModelRegistryTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  private let logger = Logger(label: "model-registry-tests")

  /// A store holding demo popularity as version 1 (and, with `brokenVersion2`, a version 2 whose
  /// weights were cut short), read with the built plugins.
  private func registry(brokenVersion2: Bool = false) throws -> ModelRegistry {
    let plugins = ProcessInfo.processInfo.environment["RECSYS_PLUGINS_DIR"]
      ?? Self.root.appendingPathComponent(".build/plugins").path
    guard FileManager.default.fileExists(atPath: plugins + "/librecsys-popularity.so") else {
      throw XCTSkip("no built plugins in \(plugins) (run make build, or set RECSYS_PLUGINS_DIR)")
    }
    let store = FileManager.default.temporaryDirectory.appendingPathComponent("model-registry-\(UUID().uuidString)")
    addTeardownBlock { try? FileManager.default.removeItem(at: store) }
    let demo = Self.root.appendingPathComponent("demo/store/popularity/1")
    try FileManager.default.createDirectory(at: store.appendingPathComponent("popularity"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: demo, to: store.appendingPathComponent("popularity/1"))
    if brokenVersion2 {
      let version2 = store.appendingPathComponent("popularity/2")
      try FileManager.default.copyItem(at: demo, to: version2)
      let weights = version2.appendingPathComponent("weights.safetensors")
      let bytes = try Data(contentsOf: weights)
      try bytes.prefix(bytes.count / 2).write(to: weights)
    }
    let registry = ModelRegistry(storePath: store.path, plugins: PluginSet.load(directory: plugins, logger: logger),
                                 logger: logger)
    registry.reload(retryFailed: false)
    return registry
  }

  func testTheNewestLoadableVersionServesAndAnswers() throws {
    let registry = try registry()
    let model = try registry.resolve(ModelSelector(parsing: "popularity"))
    XCTAssertEqual(model.name, "popularity")
    XCTAssertEqual(model.version, 1)
    XCTAssertEqual(model.instance.model, "popularity@1", "the instance names its version in errors")
    let answer = try model.instance.recommend(ModelRequest(topK: 3))
    XCTAssertEqual(answer.itemIDs.count, 3)
    XCTAssertEqual(answer.scores, answer.scores.sorted(by: >))
  }

  func testEachRefusalCarriesItsStatus() throws {
    let registry = try registry()
    let cases: [(String, () throws -> Void, StatusCode)] = [
      ("unknown model", { _ = try registry.resolve(ModelSelector(parsing: "nope")) }, .notFound),
      ("unknown version", { _ = try registry.resolve(ModelSelector(parsing: "popularity@9")) }, .notFound),
      ("pin to a missing version", { _ = try registry.setPolicy(model: "popularity", .pin(9)) }, .failedPrecondition),
      ("bad label", { _ = try registry.setPolicy(model: "popularity", .label("9x", 1)) }, .invalidArgument),
      ("policy of an unknown model", { _ = try registry.setPolicy(model: "nope", .latest) }, .notFound),
    ]
    for (what, body, code) in cases {
      XCTAssertThrowsError(try body(), what) { error in
        XCTAssertEqual((error as? RegistryError)?.code, code, "\(what): \(error)")
      }
    }
  }

  func testAVersionTheLoaderRefusesNeverServesAndSaysWhy() throws {
    let registry = try registry(brokenVersion2: true)
    XCTAssertEqual(try registry.resolve(ModelSelector(parsing: "popularity")).version, 1, "the older version keeps serving")
    let status = try XCTUnwrap(registry.status(model: "popularity").first)
    let version2 = try XCTUnwrap(status.versions.first { $0.version == 2 })
    XCTAssertEqual(version2.state, .failed)
    XCTAssertFalse(version2.error.isEmpty)
    XCTAssertThrowsError(try registry.setPolicy(model: "popularity", .pin(2))) { error in
      XCTAssertEqual((error as? RegistryError)?.code, .failedPrecondition)
      XCTAssertTrue("\(error)".contains("failed to load"), "\(error)")
    }
  }
}

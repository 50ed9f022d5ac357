import Foundation
import Logging
import ModelStore
import XCTest

/// Issue 13 at the registry: a serving version whose files are rewritten in place keeps its
/// loaded instance until the new content loads, and keeps it when the new content fails.
final class InPlaceRewriteTests: XCTestCase {
  func testHalfWrittenWeightsKeepTheLoadedContentServingUntilWhole() throws {
    let store = FileManager.default.temporaryDirectory.appendingPathComponent("rewrite-test-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: store) }
    let version = store.appendingPathComponent("mlp/1")
    try FileManager.default.createDirectory(at: version, withIntermediateDirectories: true)
    let fixture = GoldenFixture.root.appendingPathComponent("mlp/model/1")
    let other = GoldenFixture.root.appendingPathComponent("mlp_nofeat/model/1")
    for name in ["model.json", "weights.safetensors"] {
      try FileManager.default.copyItem(at: fixture.appendingPathComponent(name), to: version.appendingPathComponent(name))
    }
    let registry = ModelRegistry(storePath: store.path, plugins: GoldenFixture.plugins, logger: Logger(label: "rewrite-tests"))
    registry.reload(retryFailed: false)
    let first = try registry.resolve(ModelSelector(model: "mlp"))

    // The other fixture's manifest first, then half its weights: the files do not load.
    try Data(contentsOf: other.appendingPathComponent("model.json")).write(to: version.appendingPathComponent("model.json"))
    let weights = try Data(contentsOf: other.appendingPathComponent("weights.safetensors"))
    try weights.prefix(weights.count / 2).write(to: version.appendingPathComponent("weights.safetensors"))
    registry.reload(retryFailed: false)
    XCTAssertTrue(try registry.resolve(ModelSelector(model: "mlp")) === first, "the loaded instance must keep serving")
    let status = try XCTUnwrap(registry.status(model: "mlp").first?.versions.first)
    XCTAssertEqual(status.state, .available)
    XCTAssertTrue(status.error.contains("reloading it (files changed) failed, so the previously loaded content keeps serving"),
                  status.error)

    // Unchanged files are not retried by a poll; whole files are loaded and swapped in.
    registry.reload(retryFailed: false)
    XCTAssertTrue(try registry.resolve(ModelSelector(model: "mlp")) === first)
    try weights.write(to: version.appendingPathComponent("weights.safetensors"))
    registry.reload(retryFailed: false)
    let second = try registry.resolve(ModelSelector(model: "mlp"))
    XCTAssertFalse(second === first)
    XCTAssertEqual(registry.status(model: "mlp").first?.versions.first?.error, "")
    XCTAssertEqual(registry.status(model: "mlp").first?.servingVersion, 1)
  }
}

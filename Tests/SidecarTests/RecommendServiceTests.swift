import Foundation
import Logging
import ModelStore
import PluginHost
import RecSysStatus
import Routing
import Sidecar
import XCTest

/// RecommendService end to end without a server: serialized requests through the shim's parser and
/// the same handler a gRPC call reaches, against demo popularity and the built plugins.
final class RecommendServiceTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  private let logger = Logger(label: "recommend-service-tests")

  private func service() throws -> RecommendService {
    let plugins = ProcessInfo.processInfo.environment["RECSYS_PLUGINS_DIR"]
      ?? Self.root.appendingPathComponent(".build/plugins").path
    guard FileManager.default.fileExists(atPath: plugins + "/librecsys-popularity.so") else {
      throw XCTSkip("no built plugins in \(plugins) (run make build, or set RECSYS_PLUGINS_DIR)")
    }
    let store = FileManager.default.temporaryDirectory.appendingPathComponent("recommend-service-\(UUID().uuidString)")
    addTeardownBlock { try? FileManager.default.removeItem(at: store) }
    try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Self.root.appendingPathComponent("demo/store/popularity"),
                                     to: store.appendingPathComponent("popularity"))
    let registry = ModelRegistry(storePath: store.path, plugins: PluginSet.load(directory: plugins, logger: logger),
                                 logger: logger)
    registry.reload(retryFailed: false)
    return RecommendService(router: Router(defaultModel: try ModelSelector(parsing: "popularity")), registry: registry,
                            limits: RequestLimits(), logger: logger)
  }

  /// A RecommendRequest in protobuf wire format: model (field 9), top_k (7), exclude_item_ids (17).
  private func request(model: String = "", topK: Int, excluding: [UInt8] = []) -> [UInt8] {
    var bytes: [UInt8] = model.isEmpty ? [] : [0x4a, UInt8(model.utf8.count)] + Array(model.utf8)
    bytes += [0x38, UInt8(topK)]
    if !excluding.isEmpty { bytes += [0x8a, 0x01, UInt8(excluding.count)] + excluding }
    return bytes
  }

  private func call(_ service: RecommendService, _ bytes: [UInt8]) -> (code: StatusCode?, message: String) {
    let (code, message) = bytes.withUnsafeBytes { service.handleSerialized($0) }
    return (StatusCode(rawValue: code), message)
  }

  func testEachOutcomeEndsWithItsStatus() throws {
    let service = try service()
    let cases: [(String, [UInt8], StatusCode, String)] = [
      ("served", request(topK: 3), .ok, ""),
      ("served with exclusions", request(topK: 3, excluding: [1, 2, 3]), .ok, ""),
      ("top_k 0", request(topK: 0), .invalidArgument, "top_k is 0"),
      ("unknown model", request(model: "nope", topK: 3), .notFound, "\"nope\""),
      ("bad selector", request(model: "mlp@@", topK: 3), .invalidArgument, "model: "),
    ]
    for (what, bytes, code, words) in cases {
      let (got, message) = call(service, bytes)
      XCTAssertEqual(got, code, "\(what): \(message)")
      if words.isEmpty { XCTAssertEqual(message, "", what) } else { XCTAssertTrue(message.contains(words), "\(what): \(message)") }
    }
  }
}

import CGRPCShim
import Foundation
import Logging
import Sidecar
import SidecarApp
import XCTest

/// A whole sidecar in-process: starts on free ports from a one-model store, answers a Recommend
/// call over gRPC, and stops in dependency order on request or on a signal.
final class SidecarProcessTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  private func settings() throws -> SidecarConfig { try Self.oneModelSettings(self) }

  /// Settings for a sidecar on free ports serving a copy of demo popularity (the default model),
  /// with the built plugins; skips `test` when there are none.
  static func oneModelSettings(_ test: XCTestCase) throws -> SidecarConfig {
    let plugins = ProcessInfo.processInfo.environment["RECSYS_PLUGINS_DIR"]
      ?? Self.root.appendingPathComponent(".build/plugins").path
    guard FileManager.default.fileExists(atPath: plugins + "/librecsys-popularity.so") else {
      throw XCTSkip("no built plugins in \(plugins) (run make build, or set RECSYS_PLUGINS_DIR)")
    }
    let store = FileManager.default.temporaryDirectory.appendingPathComponent("sidecar-process-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Self.root.appendingPathComponent("demo/store/popularity"),
                                     to: store.appendingPathComponent("popularity"))
    test.addTeardownBlock { try? FileManager.default.removeItem(at: store) }
    var settings = SidecarConfig()
    settings.listen = "127.0.0.1:0"
    settings.adminListen = ""
    settings.metricsListen = ""
    settings.store = store.path
    settings.plugins = plugins
    settings.defaultModel = "popularity"
    settings.pollIntervalSeconds = 0
    settings.drainSeconds = 1
    return settings
  }

  private func recommend(port: Int) -> (status: Int32, reply: String) {
    var text: UnsafeMutablePointer<CChar>?
    let status = rs_call_json("127.0.0.1:\(port)", "/recsys.v1.Recommender/Recommend", #"{"top_k": 3}"#, nil, 10_000, &text)
    defer { rs_free(text) }
    return (status, text.map { String(cString: $0) } ?? "")
  }

  private static let logger = Logger(label: "sidecar-process-tests")
  private static let everyStage: [SidecarProcess.Stage] = [
    .serverDrained, .experimentsStopped, .exposuresWritten, .sharedStateClosed, .snapshotStopped, .registryStopped,
    .metricsStopped,
  ]

  func testStartsOnAFreePortServesAndStopsInOrderOnRequest() throws {
    let process = try SidecarProcess(settings: settings(), logger: Self.logger)
    XCTAssertGreaterThan(process.port, 0)
    let (status, reply) = recommend(port: process.port)
    XCTAssertEqual(status, 0, reply)
    let items = (try JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any])?["items"] as? [Any]
    XCTAssertEqual(items?.count, 3, reply)
    XCTAssertEqual(process.stages, [], "nothing stops before it is asked to")

    process.requestShutdown()
    process.waitUntilStopped()
    XCTAssertEqual(process.stages, Self.everyStage)
    XCTAssertNotEqual(recommend(port: process.port).status, 0, "no calls after the stop")
  }

  func testASignalDrainsAndStops() throws {
    let process = try SidecarProcess(settings: settings(), logger: Self.logger)
    // SIGUSR2 stands in for SIGTERM, which would end the test runner were the handler missing.
    process.handleSignals([SIGUSR2])
    let stopped = expectation(description: "stopped")
    Thread.detachNewThread {
      process.waitUntilStopped()
      stopped.fulfill()
    }
    XCTAssertEqual(recommend(port: process.port).status, 0)
    kill(getpid(), SIGUSR2)
    wait(for: [stopped], timeout: 20)
    XCTAssertEqual(process.stages, Self.everyStage)
  }

  func testAStartThatCannotReadItsExperimentsFileNamesIt() throws {
    var settings = try settings()
    settings.experiments = "/nonexistent/experiments.yaml"
    XCTAssertThrowsError(try SidecarProcess(settings: settings, logger: Self.logger)) { error in
      XCTAssertTrue("\(error)".hasPrefix("experiments: "), "\(error)")
    }
  }
}

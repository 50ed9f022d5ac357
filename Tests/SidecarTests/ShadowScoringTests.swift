import Foundation
import Logging
import ModelStore
import PluginHost
import Sidecar
import XCTest

/// Shadow scoring against demo popularity: a job is scored once no call runs, waits while one
/// does, a full queue drops (never waits), and a shadow that cannot serve counts as failed.
final class ShadowScoringTests: XCTestCase {
  /// What the shadow reported, by kind.
  final class Outcomes: ShadowOutcomes, @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private(set) var lastShadowList: [Int64] = []

    func recordShadow(experimentKey: String, salt: String, served: UnsafeBufferPointer<Int64>,
                      shadow: UnsafeBufferPointer<Int64>) {
      lock.withLock {
        counts["compared", default: 0] += 1
        lastShadowList = Array(shadow)
      }
    }
    func recordShadowDropped(experimentKey: String, salt: String) { lock.withLock { counts["dropped", default: 0] += 1 } }
    func recordShadowFailed(experimentKey: String, salt: String) { lock.withLock { counts["failed", default: 0] += 1 } }
    func count(_ kind: String) -> Int { lock.withLock { counts[kind] ?? 0 } }
  }

  private func registry() throws -> ModelRegistry {
    let root = RecommendServiceTests.root
    let logger = Logger(label: "shadow-scoring-tests")
    let plugins = ProcessInfo.processInfo.environment["RECSYS_PLUGINS_DIR"] ?? root.appendingPathComponent(".build/plugins").path
    guard FileManager.default.fileExists(atPath: plugins + "/librecsys-popularity.so") else {
      throw XCTSkip("no built plugins in \(plugins) (run make build, or set RECSYS_PLUGINS_DIR)")
    }
    let registry = ModelRegistry(storePath: root.appendingPathComponent("demo/store").path,
                                 plugins: PluginSet.load(directory: plugins, logger: logger), logger: logger)
    registry.reload(retryFailed: false)
    return registry
  }

  private func job(_ shadow: String) throws -> ShadowScoring.Job {
    ShadowScoring.Job(experimentKey: "e", salt: "s", shadow: try ModelSelector(parsing: shadow),
                      request: ModelRequest(topK: 3), served: [1, 2, 3])
  }

  private func waitFor(_ condition: () -> Bool, seconds: Double = 20) -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while !condition() && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    return condition()
  }

  func testAJobIsScoredOnlyOnceNoCallRuns() throws {
    let outcomes = Outcomes()
    let shadow = ShadowScoring(registry: try registry(), ledger: outcomes)
    defer { shadow.stop() }
    shadow.callStarted()
    shadow.submit(try job("popularity"))
    Thread.sleep(forTimeInterval: 0.3)
    XCTAssertEqual(outcomes.count("compared"), 0, "no shadow work beside a running call")
    shadow.callEnded()
    XCTAssertTrue(waitFor { outcomes.count("compared") == 1 })
    XCTAssertEqual(outcomes.lastShadowList.count, 3, "the shadow's own top 3")
    XCTAssertEqual(outcomes.count("dropped") + outcomes.count("failed"), 0)
  }

  func testAFullQueueDropsWithoutWaitingAndAnUnservedShadowFails() throws {
    let outcomes = Outcomes()
    let shadow = ShadowScoring(registry: try registry(), ledger: outcomes, capacity: 2)
    defer { shadow.stop() }
    shadow.callStarted()
    for _ in 0..<5 { shadow.submit(try job("popularity")) }
    XCTAssertEqual(outcomes.count("dropped"), 3, "beyond capacity, dropped at once")
    shadow.submit(try job("no-such-model"))
    XCTAssertEqual(outcomes.count("dropped"), 4)
    shadow.callEnded()
    XCTAssertTrue(waitFor { outcomes.count("compared") == 2 })
    shadow.callStarted()
    shadow.submit(try job("no-such-model"))
    shadow.callEnded()
    XCTAssertTrue(waitFor { outcomes.count("failed") == 1 })
  }
}

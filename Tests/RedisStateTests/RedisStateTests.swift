import Experiments
import Foundation
import Logging
import XCTest

import RedisState

final class RedisStateSettingsTests: XCTestCase {
  func testURLsParse() throws {
    let plain = try RedisStateSettings(url: "redis://cache.internal:6380/3")
    XCTAssertEqual([plain.host, String(plain.port), String(plain.database), plain.password],
                   ["cache.internal", "6380", "3", ""])
    let defaults = try RedisStateSettings(url: "redis://localhost")
    XCTAssertEqual([defaults.host, String(defaults.port), String(defaults.database)], ["localhost", "6379", "0"])
    let secret = try RedisStateSettings(url: "redis://:s3cr:et@10.1.2.3:7000/0")
    XCTAssertEqual([secret.host, String(secret.port), secret.password], ["10.1.2.3", "7000", "s3cr:et"])
    XCTAssertEqual(secret.address, "redis://10.1.2.3:7000/0")  // never the password
    for bad in ["http://x:1", "redis://", "redis://h:0", "redis://h:99999", "redis://h:1/x"] {
      XCTAssertThrowsError(try RedisStateSettings(url: bad), bad)
    }
  }

  func testCountersAndSlatesReadBackFromReplies() {
    let reply = RedisReply.array([
      .string("control:impressions"), .string("10"), .string("control:clicks"), .string("3"),
      .string("control:revenue_micros"), .string("12500000"), .string("treatment:purchases"), .string("2"),
    ])
    let counts = RedisExperimentState.counters(from: reply)
    XCTAssertEqual(counts["control"], ArmCounters(impressions: 10, clicks: 3, revenue: 12.5))
    XCTAssertEqual(counts["treatment"], ArmCounters(purchases: 2))
    let slate = RedisExperimentState.slate(from: .array([
      .string("experiment"), .string("exp"), .string("salt"), .string("s"), .string("arm"), .string("a"),
      .string("items"), .string("5,-7"), .string("forced"), .string("0"), .string("counted"), .string("1"),
    ]), requestID: "r")
    XCTAssertEqual(slate, Slate(requestID: "r", experiment: "exp", salt: "s", arm: "a", itemIDs: [5, -7], forced: false,
                                counted: true))
    XCTAssertNil(RedisExperimentState.slate(from: .array([]), requestID: "r"))
  }
}

/// Against a real redis-server (skipped when none is installed): what two replicas see.
final class RedisExperimentStateTests: XCTestCase {
  var server: Process?
  var port = 0

  override func setUpWithError() throws {
    let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
    guard let binary else { throw XCTSkip("redis-server is not installed") }
    port = Int.random(in: 20_000...40_000)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    server = process
    for _ in 0..<100 {
      if (try? RedisConnection(host: "127.0.0.1", port: port, database: 0, password: "", timeout: .seconds(1))) != nil {
        return
      }
      Thread.sleep(forTimeInterval: 0.05)
    }
    XCTFail("redis-server did not start")
  }

  override func tearDown() {
    server?.terminate()
    server?.waitUntilExit()
  }

  func state() -> RedisExperimentState {
    var settings = RedisStateSettings()
    settings.port = port
    settings.flushInterval = .milliseconds(5)
    return RedisExperimentState(settings: settings, logger: Logger(label: "test"))
  }

  func testTwoReplicasShareSlatesCountsAndDeduplication() throws {
    let (one, two) = (state(), state())
    defer {
      one.close()
      two.close()
    }
    _ = one.counts(key: "exp", salt: "1", fresh: false)
    let slate = Slate(requestID: "r1", experiment: "exp", salt: "1", arm: "b", itemIDs: [4, 5], forced: false,
                      counted: true)
    one.served(slate)
    two.served(Slate(requestID: "r2", experiment: "exp", salt: "1", arm: "b", itemIDs: [6], forced: false,
                     counted: true))
    // The other replica finds the slate (waiting for the first flush if it must).
    XCTAssertEqual(try two.slate(requestID: "r1"), slate)
    XCTAssertNil(try two.slate(requestID: "never"))
    let click = FeedbackEvent(requestID: "r1", itemID: 5, kind: .click, value: 0)
    XCTAssertTrue(try two.recordFeedback(click, on: slate))
    XCTAssertFalse(try one.recordFeedback(click, on: slate))  // the same event on another replica
    XCTAssertTrue(try one.recordFeedback(FeedbackEvent(requestID: "r1", itemID: 4, kind: .click, value: 0), on: slate))
    XCTAssertTrue(try one.recordFeedback(FeedbackEvent(requestID: "r1", itemID: 4, kind: .purchase, value: 19.99),
                                         on: slate))
    let deadline = Date(timeIntervalSinceNow: 5)
    while two.status.pendingImpressions + one.status.pendingImpressions > 0 && Date() < deadline {
      Thread.sleep(forTimeInterval: 0.01)
    }
    // Two impressions, one clicked response, one purchase: the same from either replica.
    for replica in [one, two] {
      XCTAssertEqual(replica.counts(key: "exp", salt: "1", fresh: true)?["b"],
                     ArmCounters(impressions: 2, clicks: 1, purchases: 1, revenue: 19.99))
    }
    XCTAssertEqual(one.status.dropped, 0)
    XCTAssertTrue(one.status.reachable)
  }

  func testASlateExpiresAfterItsExperimentsFeedbackTTL() throws {
    let replica = state()
    defer { replica.close() }
    replica.served(Slate(requestID: "short", experiment: "exp", salt: "1", arm: "a", itemIDs: [1], forced: false,
                         counted: true, ttlSeconds: 120))
    replica.served(Slate(requestID: "default", experiment: "", salt: "", arm: "", itemIDs: [1], forced: false,
                         counted: false))
    XCTAssertEqual(try replica.slate(requestID: "short")?.ttlSeconds, 120)
    XCTAssertNotNil(try replica.slate(requestID: "default"))
    let redis = try RedisConnection(host: "127.0.0.1", port: port, database: 0, password: "", timeout: .seconds(1))
    guard case .integer(let short) = try redis.command(["PTTL", "recsys:slate:short"]),
          case .integer(let long) = try redis.command(["PTTL", "recsys:slate:default"])
    else { return XCTFail("no TTL") }
    XCTAssertTrue((100_000...120_000).contains(short), "\(short)")
    XCTAssertTrue((86_000_000...86_400_000).contains(long), "\(long)")
  }
}

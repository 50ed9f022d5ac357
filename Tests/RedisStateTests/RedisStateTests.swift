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

final class RedisTLSSettingsTests: XCTestCase {
  func testRedissURLsAskForTLS() throws {
    let secure = try RedisStateSettings(url: "rediss://:pw@cache.internal:6380/2")
    XCTAssertEqual([secure.host, String(secure.port), String(secure.database), secure.password],
                   ["cache.internal", "6380", "2", "pw"])
    XCTAssertEqual(secure.tls, RedisTLSSettings())
    XCTAssertEqual(secure.address, "rediss://cache.internal:6380/2")
    XCTAssertNil(try RedisStateSettings(url: "redis://h:1/0").tls)
    XCTAssertThrowsError(try RedisStateSettings(url: "redisss://h:1/0"))
  }

  func testMissingOrHalfGivenFilesAreNamed() {
    XCTAssertThrowsError(try RedisTLSSettings(caFile: "/nonexistent/ca.pem").check()) { error in
      XCTAssertEqual("\(error)", "Redis TLS CA file /nonexistent/ca.pem does not exist")
    }
    XCTAssertThrowsError(try RedisTLSSettings(certFile: "/nonexistent/c.pem").check()) { error in
      XCTAssertTrue("\(error)".contains("both a certificate file and a key file"), "\(error)")
    }
    let notPEM = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-ca-\(UUID().uuidString).pem")
    FileManager.default.createFile(atPath: notPEM.path, contents: Data("hello".utf8))
    defer { try? FileManager.default.removeItem(at: notPEM) }
    XCTAssertThrowsError(try RedisTLSSettings(caFile: notPEM.path).check()) { error in
      XCTAssertTrue("\(error)".contains("CA file \(notPEM.path) holds no usable certificate"), "\(error)")
    }
    XCTAssertNoThrow(try RedisTLSSettings().check())  // the system CAs
  }
}

/// A TLS-only redis-server (skipped without redis-server or openssl) and certificates made by the
/// openssl CLI: commands and pipelines round-trip, a wrong CA is refused naming it.
final class RedisTLSConnectionTests: XCTestCase {
  var server: Process?
  var port = 0
  var folder = URL(fileURLWithPath: "/")

  @discardableResult
  func run(_ tool: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    process.currentDirectoryURL = folder
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
  }

  override func setUpWithError() throws {
    let tools = ["/usr/bin/redis-server", "/usr/bin/openssl"]
    guard tools.allSatisfy({ FileManager.default.isExecutableFile(atPath: $0) }) else {
      throw XCTSkip("redis-server or openssl is not installed")
    }
    folder = FileManager.default.temporaryDirectory.appendingPathComponent("redis-tls-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for ca in ["ca", "other"] {
      try XCTAssertEqual(run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                                  "-subj", "/CN=\(ca)", "-keyout", "\(ca).key", "-out", "\(ca).crt"]), 0)
    }
    try Data("subjectAltName=IP:127.0.0.1\n".utf8).write(to: folder.appendingPathComponent("ext"))
    try XCTAssertEqual(run("/usr/bin/openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=server",
                                                "-keyout", "server.key", "-out", "server.csr"]), 0)
    try XCTAssertEqual(run("/usr/bin/openssl", ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                                                "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "ext"]), 0)
    port = Int.random(in: 40_001...50_000)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
    process.arguments = ["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                         "no", "--tls-cert-file", "server.crt", "--tls-key-file", "server.key", "--tls-ca-cert-file",
                         "ca.crt", "--tls-auth-clients", "no"]
    process.currentDirectoryURL = folder
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    server = process
    for _ in 0..<100 {
      if (try? connect(ca: "ca.crt")) != nil { return }
      Thread.sleep(forTimeInterval: 0.05)
    }
    XCTFail("redis-server did not start with TLS")
  }

  override func tearDown() {
    server?.terminate()
    server?.waitUntilExit()
    try? FileManager.default.removeItem(at: folder)
  }

  func connect(ca: String, database: Int = 0) throws -> RedisConnection {
    try RedisConnection(host: "127.0.0.1", port: port, database: database, password: "", timeout: .seconds(1),
                        tls: RedisTLSSettings(caFile: folder.appendingPathComponent(ca).path))
  }

  func testCommandsAndPipelinesOverTLS() throws {
    let redis = try connect(ca: "ca.crt", database: 1)
    XCTAssertEqual(try redis.command(["PING"]), .status("PONG"))
    let big = String(repeating: "é", count: 100_000)  // replies longer than one TLS record and one read
    let replies = try redis.pipeline([["SET", "k", big], ["GET", "k"], ["INCRBY", "n", "5"], ["HGETALL", "none"],
                                      ["GET", "none"], ["NOSUCHCOMMAND"]])
    XCTAssertEqual(Array(replies.prefix(5)), [.status("OK"), .string(big), .integer(5), .array([]), .null])
    guard case .error = replies[5] else { return XCTFail("\(replies[5])") }
    XCTAssertFalse(redis.broken)
  }

  func testAConnectionTheServerClosedFailsWithoutSIGPIPE() throws {
    let victim = try connect(ca: "ca.crt")
    guard case .integer(let id) = try victim.command(["CLIENT", "ID"]) else { return XCTFail("no client id") }
    XCTAssertEqual(try connect(ca: "ca.crt").command(["CLIENT", "KILL", "ID", String(id)]), .integer(1))
    Thread.sleep(forTimeInterval: 0.1)
    // Many TLS records into a closed connection: an error, not a process killed by SIGPIPE.
    let big = String(repeating: "x", count: 1 << 20)
    XCTAssertThrowsError(try victim.pipeline([["SET", "a", big], ["SET", "b", big]]))
    XCTAssertTrue(victim.broken)
    XCTAssertThrowsError(try victim.command(["PING"]))
  }

  func testAWrongCAIsRefusedNamingIt() {
    XCTAssertThrowsError(try connect(ca: "other.crt")) { error in
      XCTAssertTrue("\(error)".contains("certificate was rejected"), "\(error)")
      XCTAssertTrue("\(error)".contains("other.crt"), "\(error)")
    }
  }
}

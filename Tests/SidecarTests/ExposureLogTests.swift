import Foundation
import XCTest

import Sidecar

final class ExposureLogTests: XCTestCase {
  private var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("exposure-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  private var path: String { directory.appendingPathComponent("exposures.jsonl").path }

  private func exposure(_ requestID: String, userID: String = "u1", scores: [Float] = [0.5, 0.25]) -> Exposure {
    Exposure(
      requestID: requestID, timestamp: Date(timeIntervalSince1970: 1_795_450_692.188), userID: userID,
      surface: "home", experiment: "ranker-ab", arm: "treatment", bucket: 417, armProbability: 0.5, forced: false,
      model: "mlp", modelVersion: 3, itemIDs: [42, 7], scores: scores, propensities: [0.75, 0.125], shadow: "lstm@2")
  }

  private func lines(_ path: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    XCTAssertTrue(text.isEmpty || text.hasSuffix("\n"), "the file ends mid-line: \(path)")
    return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
  }

  private func object(_ line: String) throws -> [String: Any] {
    try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
  }

  private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
  }

  func testEveryLineFromConcurrentAppendersArrivesExactlyOnce() throws {
    let log = try ExposureLog(settings: .init(path: path))
    DispatchQueue.concurrentPerform(iterations: 4) { thread in
      for index in 0..<2_500 { log.append(exposure("r\(thread)-\(index)")) }
    }
    log.close()
    XCTAssertEqual(log.written, 10_000)
    XCTAssertEqual(log.dropped, 0)
    let lines = try lines(path)
    XCTAssertEqual(lines.count, 10_000)
    let requestIDs = try lines.map { try XCTUnwrap(object($0)["request_id"] as? String) }
    XCTAssertEqual(Set(requestIDs).count, 10_000)
    XCTAssertEqual(Set(requestIDs), Set((0..<4).flatMap { thread in (0..<2_500).map { "r\(thread)-\($0)" } }))
  }

  func testALineHasEveryFieldInOrder() throws {
    let log = try ExposureLog(settings: .init(path: path))
    log.append(exposure("req-1"))
    log.close()
    let line = try XCTUnwrap(lines(path).first)
    XCTAssertEqual(line, #"""
      {"ts":"2026-11-23T16:18:12.188Z","request_id":"req-1","user_id":"u1","surface":"home",\#
      "experiment":"ranker-ab","arm":"treatment","bucket":417,"arm_probability":0.5,"forced":false,\#
      "model":"mlp@3","items":[42,7],"scores":[0.5,0.25],"propensities":[0.75,0.125],"shadow":"lstm@2"}
      """#)
    let fields = try object(line)
    XCTAssertEqual(fields["bucket"] as? Int, 417)
    XCTAssertEqual(fields["items"] as? [Int], [42, 7])
    XCTAssertEqual(fields["forced"] as? Bool, false)
  }

  func testExplanationsFollowTheShadowOneListPerItem() throws {
    let log = try ExposureLog(settings: .init(path: path))
    var explained = exposure("req-2")
    explained.explanations = Explanations(
      because: [[ExplainedEvent(itemID: 9, position: 3, type: 3, value: 0.5),
                 ExplainedEvent(itemID: 8, position: 0, type: 0, value: 0.25)], []],
      attention: [ExplainedEvent(itemID: 8, position: 0, type: 0, value: 0.75),
                  ExplainedEvent(itemID: 9, position: 3, type: 3, value: 0.25)])
    log.append(explained)
    log.close()
    let line = try XCTUnwrap(lines(path).first)
    XCTAssertTrue(line.hasSuffix(#"""
      "shadow":"lstm@2","because":[[{"item_id":9,"position":3,"type":"PURCHASE","contribution":0.5},\#
      {"item_id":8,"position":0,"type":"VIEW","contribution":0.25}],[]],\#
      "attention":[{"item_id":8,"position":0,"type":"VIEW","weight":0.75},\#
      {"item_id":9,"position":3,"type":"PURCHASE","weight":0.25}]}
      """#), line)
    let fields = try object(line)
    XCTAssertEqual((fields["because"] as? [[Any]])?.map(\.count), [2, 0])
  }

  func testNoExperimentAndExtremeNumbers() throws {
    let log = try ExposureLog(settings: .init(path: path))
    log.append(Exposure(
      requestID: "r", timestamp: Date(timeIntervalSince1970: 0), userID: "", surface: "", experiment: "", arm: "",
      bucket: -1, armProbability: 1, forced: true, model: "pop", modelVersion: 12,
      itemIDs: [Int64.max, -1], scores: [0.1, 1e-7, -3e20], propensities: [], shadow: ""))
    log.close()
    let line = try XCTUnwrap(lines(path).first)
    XCTAssertTrue(line.hasPrefix(#"{"ts":"1970-01-01T00:00:00.000Z""#), line)
    XCTAssertTrue(line.contains(#""items":[9223372036854775807,-1]"#), line)
    let fields = try object(line)
    XCTAssertEqual(fields["bucket"] as? Int, -1)
    XCTAssertEqual(fields["forced"] as? Bool, true)
    XCTAssertEqual(fields["arm_probability"] as? Double, 1)
    XCTAssertEqual((fields["propensities"] as? [Any])?.count, 0)
    // Each score reads back to the same Float it was.
    let scores = try XCTUnwrap(fields["scores"] as? [NSNumber]).map { $0.floatValue }
    XCTAssertEqual(scores, [0.1, 1e-7, -3e20])
  }

  func testStringsAreEscapedAndRoundTrip() throws {
    let awkward = "quote \" backslash \\ newline \n tab \t bell \u{07} nul \u{0} unicode é 漢字 🙂 slash /"
    let log = try ExposureLog(settings: .init(path: path))
    log.append(exposure("id-\"1\"", userID: awkward))
    log.close()
    let lines = try lines(path)
    XCTAssertEqual(lines.count, 1, "a newline in a field must not split the line")
    XCTAssertTrue(lines[0].contains(#"bell \u0007 nul \u0000"#), lines[0])
    let fields = try object(lines[0])
    XCTAssertEqual(fields["user_id"] as? String, awkward)
    XCTAssertEqual(fields["request_id"] as? String, "id-\"1\"")
  }

  func testNonFiniteScoresAreNull() throws {
    let log = try ExposureLog(settings: .init(path: path))
    log.append(exposure("r", scores: [.nan, .infinity, 2]))
    log.close()
    let line = try XCTUnwrap(lines(path).first)
    XCTAssertTrue(line.contains(#""scores":[null,null,2.0]"#), line)
    let scores = try XCTUnwrap(object(line)["scores"] as? [Any])
    XCTAssertTrue(scores[0] is NSNull)
    XCTAssertTrue(scores[1] is NSNull)
  }

  func testTimestampsAreUTCWithMilliseconds() {
    func format(_ seconds: TimeInterval) -> String {
      var bytes: [UInt8] = []
      ExposureJSON.appendTimestamp(Date(timeIntervalSince1970: seconds), to: &bytes)
      return String(decoding: bytes, as: UTF8.self)
    }
    XCTAssertEqual(format(0), "1970-01-01T00:00:00.000Z")
    XCTAssertEqual(format(951_782_400.5), "2000-02-29T00:00:00.500Z")
    XCTAssertEqual(format(1_795_450_692.188), "2026-11-23T16:18:12.188Z")
    XCTAssertEqual(format(4_102_444_799.999), "2099-12-31T23:59:59.999Z")
    XCTAssertEqual(format(-0.001), "1969-12-31T23:59:59.999Z")
    // Against Foundation's own formatter on a spread of instants.
    let reference = ISO8601DateFormatter()
    reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    for seconds in stride(from: -2_000_000_000.0, through: 5_000_000_000.0, by: 86_399_123.457) {
      let date = Date(timeIntervalSince1970: (seconds * 1000).rounded(.down) / 1000)
      XCTAssertEqual(format(date.timeIntervalSince1970), reference.string(from: date))
    }
  }

  func testRotationKeepsWholeLinesAndAtMostKeepFiles() throws {
    var settings = ExposureLog.Settings(path: path)
    let lineBytes = try Self.lineBytes(exposure("r000"))
    settings.maxFileBytes = lineBytes * 3 + lineBytes / 2  // three lines per file
    settings.keepFiles = 2
    let log = try ExposureLog(settings: settings)
    // However the writer happens to batch them, lines of one length fill each file with three.
    for index in 0..<20 { log.append(exposure(String(format: "r%03d", index))) }
    log.close()
    XCTAssertEqual(log.written, 20)
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    XCTAssertEqual(files, ["exposures.jsonl", "exposures.jsonl.1", "exposures.jsonl.2"])
    // Oldest first: path.2 (r012-r014), path.1 (r015-r017), path (r018, r019); r000-r011
    // rotated out. Every line whole and in order, each file within its limit.
    var surviving: [String] = []
    for name in [path + ".2", path + ".1", path] {
      let text = try String(contentsOfFile: name, encoding: .utf8)
      XCTAssertLessThanOrEqual(text.utf8.count, settings.maxFileBytes, name)
      for line in try lines(name) { surviving.append(try XCTUnwrap(object(line)["request_id"] as? String)) }
    }
    XCTAssertEqual(surviving, (12..<20).map { String(format: "r%03d", $0) })
  }

  func testOneBatchLargerThanAFileIsSplitAtLineBoundaries() throws {
    var settings = ExposureLog.Settings(path: path)
    let lineBytes = try Self.lineBytes(exposure("r000"))
    settings.maxFileBytes = lineBytes * 4
    settings.keepFiles = 3
    let log = try ExposureLog(settings: settings, onDrop: nil, writerPaused: true)
    for index in 0..<10 { log.append(exposure(String(format: "r%03d", index))) }
    log.close()  // one batch of ten
    var surviving: [String] = []
    for name in [path + ".2", path + ".1", path] {
      for line in try lines(name) { surviving.append(try XCTUnwrap(object(line)["request_id"] as? String)) }
    }
    XCTAssertEqual(surviving, (0..<10).map { String(format: "r%03d", $0) })
    XCTAssertEqual(try lines(path).count, 2)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".3"))
  }

  func testAppendsToAnExistingFile() throws {
    try "earlier\n".write(toFile: path, atomically: false, encoding: .utf8)
    let log = try ExposureLog(settings: .init(path: path))
    log.append(exposure("r"))
    log.close()
    let lines = try lines(path)
    XCTAssertEqual(lines.count, 2)
    XCTAssertEqual(lines[0], "earlier")
  }

  func testOverloadCountsDropsAndNeverBlocks() throws {
    var settings = ExposureLog.Settings(path: path)
    settings.queueCapacity = 10
    let drops = Counter()
    let log = try ExposureLog(settings: settings, onDrop: { drops.increment() }, writerPaused: true)
    for index in 0..<25 { log.append(exposure("r\(index)")) }
    XCTAssertEqual(log.dropped, 15)
    XCTAssertEqual(drops.value, 15)
    XCTAssertEqual(log.written, 0)
    log.resumeWriter()
    log.close()
    XCTAssertEqual(log.written, 10)
    XCTAssertEqual(log.dropped, 15)
    let requestIDs = try lines(path).map { try XCTUnwrap(object($0)["request_id"] as? String) }
    XCTAssertEqual(requestIDs, (0..<10).map { "r\($0)" })
  }

  func testAppendAfterCloseIsADrop() throws {
    let drops = Counter()
    let log = try ExposureLog(settings: .init(path: path), onDrop: { drops.increment() })
    log.append(exposure("before"))
    log.close()
    log.append(exposure("after"))
    log.close()
    XCTAssertEqual(log.written, 1)
    XCTAssertEqual(log.dropped, 1)
    XCTAssertEqual(drops.value, 1)
    XCTAssertEqual(try lines(path).count, 1)
  }

  func testAMissingDirectoryIsNamedInTheError() {
    let missing = directory.appendingPathComponent("no/such/dir/exposures.jsonl").path
    XCTAssertThrowsError(try ExposureLog(settings: .init(path: missing))) { error in
      let message = String(describing: error)
      XCTAssertTrue(message.contains(missing), message)
      XCTAssertTrue(message.contains("does not exist"), message)
    }
  }

  func testAnUnwritablePathIsNamedInTheError() throws {
    // A directory where the file should be: not writable even as root.
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    XCTAssertThrowsError(try ExposureLog(settings: .init(path: path))) { error in
      XCTAssertTrue(String(describing: error).contains(path), String(describing: error))
    }
  }

  func testWriteErrorsAreCountedAsDrops() throws {
    #if os(Linux)
      // /dev/full accepts the open and fails every write with ENOSPC: a disk that is full.
      let drops = Counter()
      let log = try ExposureLog(settings: .init(path: "/dev/full"), onDrop: { drops.increment() }, writerPaused: true)
      for index in 0..<3 { log.append(exposure("r\(index)")) }
      log.close()
      XCTAssertEqual(log.written, 0)
      XCTAssertEqual(log.dropped, 3)
      XCTAssertEqual(drops.value, 3)
    #else
      throw XCTSkip("needs /dev/full")
    #endif
  }

  private static func lineBytes(_ exposure: Exposure) throws -> Int {
    var bytes: [UInt8] = []
    ExposureJSON.appendLine(exposure, to: &bytes)
    return bytes.count
  }
}

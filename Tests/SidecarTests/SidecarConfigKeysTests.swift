import Sidecar
import XCTest

/// Every setting is declared once (SidecarConfig.keys); a flag and the file accept the same
/// values and refuse the same ones, with a message naming the key.
final class SidecarConfigKeysTests: XCTestCase {
  /// Values each kind of setting accepts and refuses, as a flag's text and as the file writes it.
  private func samples(_ key: SidecarConfig.Key) -> (good: [String], bad: [String]) {
    switch key.value {
    case .text: return (["some/path", "x:1"], [])
    case .seconds: return (["0", "2.5", "12"], ["-1", "-0.5", "abc"])
    case .onOff: return (["true", "false"], ["maybe", "1"])
    case .whole(_, let range):
      var bad = ["\(range.lowerBound - 1)", "2.5", "abc"]
      if range.upperBound < Int.max { bad.append("\(range.upperBound + 1)") }
      return (["\(range.lowerBound)", "\(range.upperBound)"], bad)
    }
  }

  func testEveryKeyIsDeclaredOnceAndItsDefaultIsValid() throws {
    XCTAssertEqual(Set(SidecarConfig.keys.map(\.yaml)).count, SidecarConfig.keys.count)
    XCTAssertEqual(Set(SidecarConfig.keys.map(\.flag)).count, SidecarConfig.keys.count)
    XCTAssertNoThrow(try SidecarConfig().validate())
    for key in SidecarConfig.keys { XCTAssertTrue(SidecarConfig.flagsHelp.contains(key.flag), key.flag) }
  }

  func testFlagAndFileAcceptTheSameValuesForEveryKey() throws {
    for key in SidecarConfig.keys {
      for value in samples(key).good {
        let fileValue = if case .text = key.value { "\"\(value)\"" } else { value }
        let fromFile = try SidecarConfig(yaml: "\(key.yaml): \(fileValue)\n", source: "test.yaml")
        var fromFlag = SidecarConfig()
        if case .onOff = key.value {
          try fromFlag.apply(flags: [value == "true" ? key.flag : "--no-" + key.flag.dropFirst(2)])
        } else {
          try fromFlag.apply(flags: [key.flag, value])
        }
        XCTAssertEqual(fromFile, fromFlag, "\(key.yaml): \(value)")
        XCTAssertEqual(fromFile.shown(key), fromFlag.shown(key))
      }
    }
  }

  func testFlagAndFileRefuseTheSameValuesNamingTheKey() throws {
    for key in SidecarConfig.keys {
      for value in samples(key).bad {
        XCTAssertThrowsError(try SidecarConfig(yaml: "\(key.yaml): \(value)\n", source: "test.yaml"), key.yaml) { error in
          XCTAssertTrue("\(error)".contains(key.yaml) && "\(error)".contains(key.expected), "\(error)")
        }
        var settings = SidecarConfig()
        XCTAssertThrowsError(try settings.apply(flags: ["\(key.flag)=\(value)"]), "\(key.flag)=\(value)") { error in
          XCTAssertTrue("\(error)".contains(key.flag) && "\(error)".contains(key.yaml) && "\(error)".contains(key.expected),
                        "\(error)")
        }
      }
    }
  }

  func testSettingsBuiltInCodeMeetTheSameRules() {
    var settings = SidecarConfig()
    settings.exposureLogKeep = 5_000
    XCTAssertThrowsError(try settings.validate()) { error in
      XCTAssertEqual("\(error)", "exposure_log_keep (--exposure-log-keep) is 5000; it must be a whole number from 1 to 1000")
    }
    settings = SidecarConfig()
    settings.drainSeconds = -.infinity
    XCTAssertThrowsError(try settings.validate()) { XCTAssertTrue("\($0)".contains("drain_seconds"), "\($0)") }
  }

  func testFlagSpellingsAndOrder() throws {
    var settings = SidecarConfig()
    try settings.apply(flags: ["--listen=127.0.0.1:0", "--metrics-listen", "", "--poll-interval", "0",
                               "--tls-require-client-cert", "--admin-token-file", "/t", "--admin-token", "0123456789abcdef"])
    XCTAssertEqual(settings.listen, "127.0.0.1:0")
    XCTAssertEqual(settings.metricsListen, "")
    XCTAssertEqual(settings.pollIntervalSeconds, 0)
    XCTAssertTrue(settings.tlsRequireClientCert)
    // A token flag replaces the other way of giving it (the file's, or an earlier flag's).
    XCTAssertEqual(settings.adminToken, "0123456789abcdef")
    XCTAssertEqual(settings.adminTokenFile, "")
    XCTAssertThrowsError(try settings.apply(flags: ["--max-top-k"])) { XCTAssertTrue("\($0)".contains("needs a value"), "\($0)") }
    XCTAssertThrowsError(try settings.apply(flags: ["--max-topk", "5"])) {
      XCTAssertTrue("\($0)".contains("unknown option --max-topk"), "\($0)")
    }
    XCTAssertThrowsError(try settings.apply(flags: ["stray"])) { XCTAssertTrue("\($0)".contains("stray"), "\($0)") }
    XCTAssertThrowsError(try settings.apply(flags: ["--no-listen"])) { XCTAssertTrue("\($0)".contains("unknown"), "\($0)") }
  }
}

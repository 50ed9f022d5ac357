import ModelStore
import Sidecar
import XCTest

final class SidecarConfigYAMLTests: XCTestCase {
  func testPrintedConfigReadsBackToTheSameSettings() throws {
    var config = SidecarConfig()
    config.listen = "0.0.0.0:7000"
    config.metricsListen = ""
    config.store = "/srv/models with \"quotes\" and: colons"
    config.pollIntervalSeconds = 0.25
    config.tlsRequireClientCert = true
    config.limits.maxTopK = 7
    config.models = ["ranker": VersionPolicy(pinned: 3, labels: ["stable": 3, "canary": 4]), "seq": .latest]
    XCTAssertEqual(try SidecarConfig(yaml: config.yaml, source: "printed"), config)
    XCTAssertEqual(try SidecarConfig(yaml: SidecarConfig().yaml, source: "defaults"), SidecarConfig())
  }

  func testTheAdminTokenIsNeverPrinted() {
    var config = SidecarConfig()
    config.adminToken = "0123456789abcdef-secret"
    XCTAssertFalse(config.yaml.contains("secret"))
    XCTAssertTrue(config.yaml.contains("# admin_token: set"))
  }

  func testMetricsListenIsReadAndChecked() throws {
    XCTAssertEqual(SidecarConfig().metricsListen, "127.0.0.1:9464")
    XCTAssertEqual(try SidecarConfig(yaml: "metrics_listen: 0.0.0.0:9100", source: "t").metricsListen, "0.0.0.0:9100")
    XCTAssertNoThrow(try SidecarConfig(yaml: "metrics_listen: \"\"", source: "t").validate())
    XCTAssertThrowsError(try SidecarConfig(yaml: "metrics_listen: localhost", source: "t").validate()) { error in
      XCTAssertTrue("\(error)".contains("metrics_listen"), "\(error)")
    }
    XCTAssertThrowsError(try SidecarConfig(yaml: "metrics_listen: 9464", source: "t")) { error in
      XCTAssertTrue("\(error)".contains("\"metrics_listen\" must be a string"), "\(error)")
    }
  }
}

/// The config file goes through the experiments file's guard (`YAMLGuard`) and size cap.
final class SidecarConfigLimitsTests: XCTestCase {
  func testNestingAliasesAndLongKeysAreRefusedBeforeYams() throws {
    let nested = "models: " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
    XCTAssertThrowsError(try SidecarConfig(yaml: nested, source: "c.yaml")) { error in
      XCTAssertTrue("\(error)".hasPrefix("c.yaml:1: lists and mappings are nested more than 64"), "\(error)")
    }
    XCTAssertThrowsError(try SidecarConfig(yaml: "store: &s x\nplugins: *s\n", source: "c.yaml")) { error in
      XCTAssertTrue("\(error)".contains("anchors (&name) are not allowed"), "\(error)")
    }
    // (YAML allows plain keys of at most 1024 characters.)
    let key = String(repeating: "k", count: 1_000)
    XCTAssertThrowsError(try SidecarConfig(yaml: "\(key): 1\n", source: "c.yaml")) { error in
      XCTAssertTrue("\(error)".contains("(1000 bytes)"), "\(error)")
      XCTAssertLessThan("\(error)".utf8.count, 1_000)
    }
  }

  func testAFileOverTheCapIsRefusedWithoutReadingIt() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("sidecar-\(UUID()).yaml").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let big = "store: demo/store\n" + String(repeating: "# padding\n", count: 110_000)
    try big.write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try SidecarConfig(contentsOf: path)) { error in
      XCTAssertTrue("\(error)".contains("is larger than the limit of 1048576 bytes"), "\(error)")
    }
    try "store: demo/store\n".write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertEqual(try SidecarConfig(contentsOf: path).store, "demo/store")
  }
}

extension SidecarConfigLimitsTests {
  /// Yams' constructor force-unwraps mapping keys as strings (found by the fuzzer).
  func testKeysThatAreListsOrMappingsAreRefused() {
    for text in ["[a]: 1\n", "models:\n  mlp:\n    labels: {? {a: b} : 1}\n", "!!set {? [a], b}\n"] {
      XCTAssertThrowsError(try SidecarConfig(yaml: text, source: "c.yaml"), text) { error in
        XCTAssertTrue("\(error)".contains("mapping keys must be plain names"), "\(error)")
      }
    }
  }

  /// Yams' integer constructor overflows on long base-60 numbers (found by the fuzzer).
  func testBase60IntegersAreRefused() {
    XCTAssertThrowsError(try SidecarConfig(yaml: "drain_seconds: 1:0:0:0:0:0:0:0:0:0:0:0:0\n", source: "c.yaml")) { error in
      XCTAssertTrue("\(error)".hasPrefix("c.yaml:1: \"1:0:0:0:0:0:0:0:0:0:0:0:0\" reads as a base-60 number"), "\(error)")
    }
    XCTAssertEqual(try SidecarConfig(yaml: "listen: 127.0.0.1:7000\n", source: "c.yaml").listen, "127.0.0.1:7000")
  }
}

final class ExperimentStateConfigTests: XCTestCase {
  func testExperimentStateKeysAreReadPrintedAndChecked() throws {
    let config = try SidecarConfig(yaml: """
      experiment_state: redis://10.0.0.5:6380/2
      experiment_state_password_file: /run/secrets/redis
      experiment_state_prefix: "shop:"
      experiment_state_buffer: 500
      experiment_state_flush_ms: 50
      feedback_ttl_seconds: 3600
      feedback_log: /var/log/feedback.jsonl
      """, source: "t")
    XCTAssertEqual(config.experimentState, "redis://10.0.0.5:6380/2")
    XCTAssertEqual(config.experimentStatePasswordFile, "/run/secrets/redis")
    XCTAssertEqual(config.experimentStatePrefix, "shop:")
    XCTAssertEqual(config.experimentStateBuffer, 500)
    XCTAssertEqual(config.experimentStateFlushMilliseconds, 50)
    XCTAssertEqual(config.feedbackTTLSeconds, 3600)
    XCTAssertEqual(config.feedbackLog, "/var/log/feedback.jsonl")
    XCTAssertEqual(try SidecarConfig(yaml: config.yaml, source: "printed"), config)
    XCTAssertNoThrow(try config.validate())
    XCTAssertNoThrow(try SidecarConfig(yaml: "experiment_state: file:/var/lib/x.json", source: "t").validate())
    for bad in ["experiment_state: memcached://x", "experiment_state: \"file:\"",
                "experiment_state_password_file: /x"] {
      XCTAssertThrowsError(try SidecarConfig(yaml: bad, source: "t").validate(), bad) { error in
        XCTAssertTrue("\(error)".contains("experiment_state"), "\(error)")
      }
    }
    XCTAssertThrowsError(try SidecarConfig(yaml: "experiment_state_buffer: 0", source: "t"))
    XCTAssertThrowsError(try SidecarConfig(yaml: "feedback_ttl_seconds: -1", source: "t"))
  }

  func testRedisTLSKeysAreReadPrintedAndChecked() throws {
    let config = try SidecarConfig(yaml: """
      experiment_state: rediss://redis.internal:6380/1
      experiment_state_tls_ca: /etc/recsys/redis-ca.pem
      experiment_state_tls_cert: /etc/recsys/client.pem
      experiment_state_tls_key: /etc/recsys/client.key
      """, source: "t")
    XCTAssertEqual(config.experimentStateTLSCA, "/etc/recsys/redis-ca.pem")
    XCTAssertEqual(config.experimentStateTLSCert, "/etc/recsys/client.pem")
    XCTAssertEqual(config.experimentStateTLSKey, "/etc/recsys/client.key")
    XCTAssertTrue(config.yaml.contains("experiment_state_tls_ca: \"/etc/recsys/redis-ca.pem\""), config.yaml)
    XCTAssertEqual(try SidecarConfig(yaml: config.yaml, source: "printed"), config)
    XCTAssertNoThrow(try config.validate())
    XCTAssertNoThrow(try SidecarConfig(yaml: "experiment_state: rediss://h:1/0\nexperiment_state_password_file: /p",
                                       source: "t").validate())
    for bad in ["experiment_state: redis://h:1/0\nexperiment_state_tls_ca: /ca.pem",
                "experiment_state_tls_cert: /c.pem", "experiment_state: rediss://h:1/0\nexperiment_state_tls_key: /k"] {
      XCTAssertThrowsError(try SidecarConfig(yaml: bad, source: "t").validate(), bad) { error in
        XCTAssertTrue("\(error)".contains("experiment_state_tls"), "\(error)")
      }
    }
  }
}

import Foundation
import ModelStore
import Sidecar
import XCTest

final class SidecarConfigTests: XCTestCase {
  func testReadsEverySettingAndPolicies() throws {
    let config = try SidecarConfig(yaml: """
      listen: 0.0.0.0:7000
      admin_listen: ""
      store: /srv/models
      plugins: /opt/plugins
      default_model: ranker
      poll_interval_seconds: 0.5
      models:
        ranker:
          pinned: 3
          labels: {stable: 3, canary: 4}
        seq: {}
      """, source: "test.yaml")
    XCTAssertEqual(config.listen, "0.0.0.0:7000")
    XCTAssertEqual(config.adminListen, "")
    XCTAssertEqual(config.store, "/srv/models")
    XCTAssertEqual(config.plugins, "/opt/plugins")
    XCTAssertEqual(config.defaultModel, "ranker")
    XCTAssertEqual(config.pollIntervalSeconds, 0.5)
    XCTAssertEqual(config.models["ranker"], VersionPolicy(pinned: 3, labels: ["stable": 3, "canary": 4]))
    XCTAssertEqual(config.models["seq"], .latest)
  }

  func testEmptyFileKeepsDefaults() throws {
    XCTAssertEqual(try SidecarConfig(yaml: "", source: "empty.yaml"), SidecarConfig())
  }

  func testInvalidFilesFailNamingTheKey() {
    let cases: [(String, String)] = [
      ("listne: x", "unknown key \"listne\""),
      ("poll_interval_seconds: -1", "poll_interval_seconds"),
      ("models: {m: {pinned: 0}}", "models.m.pinned"),
      ("models: {m: {pined: 2}}", "unknown key \"pined\""),
      ("models: {m: {labels: {stable: x}}}", "models.m.labels.stable"),
      ("listen: [1, 2]", "\"listen\" must be a string"),
      ("a: b: c", "not valid YAML"),
      ("- 1", "top level"),
    ]
    for (yaml, mention) in cases {
      XCTAssertThrowsError(try SidecarConfig(yaml: yaml, source: "bad.yaml"), yaml) { error in
        XCTAssertTrue("\(error)".contains(mention), "\(yaml): \(error)")
        XCTAssertTrue("\(error)".contains("bad.yaml"), "\(yaml): \(error)")
      }
    }
  }

  func testReadsTransportSettingsAndLimits() throws {
    let config = try SidecarConfig(yaml: """
      tls_cert: /etc/recsys/server.pem
      tls_key: /etc/recsys/server.key
      tls_client_ca: /etc/recsys/clients.pem
      tls_require_client_cert: true
      admin_token: 0123456789abcdef
      drain_seconds: 12.5
      max_receive_message_bytes: 8388608
      max_top_k: 50
      max_candidates: 20000
      max_history: 200
      """, source: "test.yaml")
    XCTAssertEqual(config.tlsCert, "/etc/recsys/server.pem")
    XCTAssertEqual(config.tlsKey, "/etc/recsys/server.key")
    XCTAssertEqual(config.tlsClientCA, "/etc/recsys/clients.pem")
    XCTAssertTrue(config.tlsRequireClientCert)
    XCTAssertEqual(config.adminToken, "0123456789abcdef")
    XCTAssertEqual(config.drainSeconds, 12.5)
    XCTAssertEqual(config.maxReceiveMessageBytes, 8_388_608)
    XCTAssertEqual(config.limits.maxTopK, 50)
    XCTAssertEqual(config.limits.maxCandidates, 20_000)
    XCTAssertEqual(config.limits.maxHistory, 200)
    XCTAssertNoThrow(try config.validate())
  }

  func testInvalidTransportValuesFailNamingTheKey() {
    let cases: [(String, String)] = [
      ("drain_seconds: -1", "drain_seconds"),
      ("tls_require_client_cert: yes please", "tls_require_client_cert"),
      ("max_receive_message_bytes: 0", "max_receive_message_bytes"),
      ("max_top_k: 0", "max_top_k"),
      ("max_candidates: 1.5", "max_candidates"),
    ]
    for (yaml, mention) in cases {
      XCTAssertThrowsError(try SidecarConfig(yaml: yaml, source: "bad.yaml"), yaml) { error in
        XCTAssertTrue("\(error)".contains(mention), "\(yaml): \(error)")
      }
    }
  }

  func testSettingsThatNeedEachOther() {
    let cases: [(String, String)] = [
      ("tls_cert: a.pem", "tls_cert is set without tls_key"),
      ("tls_key: a.key", "tls_key is set without tls_cert"),
      ("tls_client_ca: ca.pem", "tls_client_ca is set without tls_cert"),
      ("{tls_cert: a.pem, tls_key: a.key, tls_require_client_cert: true}", "tls_require_client_cert needs tls_client_ca"),
      ("{admin_token: 0123456789abcdef, admin_token_file: /t}", "both set"),
      ("admin_token: short", "at least 16"),
      ("admin_token: \"has a space 0123456789\"", "visible ASCII"),
      ("admin_token_file: /nonexistent/token", "cannot read admin_token_file"),
    ]
    for (yaml, mention) in cases {
      XCTAssertThrowsError(try SidecarConfig(yaml: yaml, source: "test.yaml").validate(), yaml) { error in
        XCTAssertTrue("\(error)".contains(mention), "\(yaml): \(error)")
      }
    }
  }

  func testAdminReachableFromOtherMachinesNeedsAToken() throws {
    for address in ["0.0.0.0:50052", "[::]:50052", ":50052", "10.0.0.5:50052", "admin.internal:50052"] {
      var config = SidecarConfig()
      config.adminListen = address
      XCTAssertThrowsError(try config.validate(), address) { error in
        XCTAssertTrue("\(error)".contains("admin_listen") && "\(error)".contains("admin_token"), "\(error)")
      }
      config.adminToken = "0123456789abcdef"
      XCTAssertNoThrow(try config.validate(), address)
    }
    for address in ["127.0.0.1:50052", "127.3.2.1:1", "[::1]:50052", "localhost:50052", "unix:/run/recsys/admin.sock", ""] {
      var config = SidecarConfig()
      config.adminListen = address
      XCTAssertNoThrow(try config.validate(), address)
    }
  }

  func testAdminTokenFileDropsTheTrailingNewline() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("recsys-token-\(UUID().uuidString)").path
    try "0123456789abcdef-token\n".write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    var config = SidecarConfig()
    config.adminTokenFile = path
    XCTAssertEqual(try config.adminBearerToken(), "0123456789abcdef-token")
  }

  func testListenAddressLocality() {
    let local = ["127.0.0.1:1", "127.255.0.9:1", "[::1]:1", "localhost:1", "LOCALHOST:1", "unix:/tmp/a.sock",
                 "unix-abstract:recsys", "ipv4:127.0.0.1:1", "[::ffff:127.0.0.1]:1"]
    let remote = ["0.0.0.0:1", "[::]:1", ":1", "192.168.1.2:1", "[fe80::1]:1", "example.com:1", "128.0.0.1:1"]
    for address in local { XCTAssertTrue(ListenAddress.isLocal(address), address) }
    for address in remote { XCTAssertFalse(ListenAddress.isLocal(address), address) }
  }
}

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
}

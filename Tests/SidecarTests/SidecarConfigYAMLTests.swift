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

import Sidecar
import XCTest

final class SidecarMetricsTests: XCTestCase {
  private func text(_ metrics: SidecarMetrics) -> String { String(decoding: metrics.exposition(), as: UTF8.self) }

  func testRequestsAreCountedByModelVersionArmAndCode() {
    let metrics = SidecarMetrics()
    for _ in 0..<3 {
      metrics.requestStarted()
      metrics.requestFinished(model: "mlp", version: 2, code: 0, elapsed: .microseconds(300))
    }
    metrics.requestStarted()
    metrics.requestFinished(model: nil, version: 0, code: 5, elapsed: .microseconds(50))
    let exposition = text(metrics)
    XCTAssertTrue(exposition.contains(#"recsys_requests_total{model="mlp",version="2",arm="",code="OK"} 3"#), exposition)
    XCTAssertTrue(exposition.contains(#"recsys_requests_total{model="",version="",arm="",code="NOT_FOUND"} 1"#), exposition)
    XCTAssertTrue(exposition.contains(#"recsys_request_duration_seconds_count{model="mlp",version="2"} 3"#), exposition)
    XCTAssertTrue(exposition.contains(#"recsys_request_duration_seconds_bucket{model="mlp",version="2",le="0.0005"} 3"#),
                  exposition)
    XCTAssertTrue(exposition.contains("recsys_requests_in_flight 0"), exposition)
    XCTAssertFalse(exposition.contains(#"recsys_request_duration_seconds_count{model="",version=""}"#))
  }

  func testSeriesThatExistBeforeAnyCall() {
    let exposition = text(SidecarMetrics())
    XCTAssertTrue(exposition.contains("recsys_exposure_log_dropped_total 0"), exposition)
    XCTAssertTrue(exposition.contains(#"recsys_build_info{version="\#(BuildInfo.version)",commit="\#(BuildInfo.commit)""#))
  }

  func testModelsServedVersionsLoadsAndPlugins() {
    let metrics = SidecarMetrics()
    metrics.modelLoadEnded(model: "mlp", succeeded: true)
    metrics.modelLoadEnded(model: "mlp", succeeded: false)
    metrics.observe(servingVersions: ["mlp": 1, "seq": 4], pluginsLoaded: 3, pluginsRefused: 1)
    // seq left the store: it reads 0.
    metrics.observe(servingVersions: ["mlp": 1], pluginsLoaded: 3, pluginsRefused: 1)
    let exposition = text(metrics)
    for line in [#"recsys_model_loads_total{model="mlp"} 2"#, #"recsys_model_load_failures_total{model="mlp"} 1"#,
                 #"recsys_model_serving_version{model="mlp"} 1"#, #"recsys_model_serving_version{model="seq"} 0"#,
                 #"recsys_plugins{state="loaded"} 3"#, #"recsys_plugins{state="refused"} 1"#] {
      XCTAssertTrue(exposition.contains(line), "\(line) not in\n\(exposition)")
    }
  }
}

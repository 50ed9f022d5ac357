import CGRPCShim
import Foundation
import Logging
import Sidecar
import SidecarApp
import XCTest

/// ModelAdmin over a real admin listener of an in-process sidecar: each method's answer, and each
/// refusal's status from the shared table.
final class AdminServiceTests: XCTestCase {
  private func admin(_ port: Int, _ method: String, _ json: String) -> (status: Int32, reply: String) {
    var text: UnsafeMutablePointer<CChar>?
    let status = rs_call_json("127.0.0.1:\(port)", "/recsys.v1.ModelAdmin/\(method)", json, nil, 10_000, &text)
    defer { rs_free(text) }
    return (status, text.map { String(cString: $0) } ?? "")
  }

  func testMethodsAnswerAndRefusalsCarryTheirStatus() throws {
    var settings = try SidecarProcessTests.oneModelSettings(self)
    settings.adminListen = "127.0.0.1:0"
    let process = try SidecarProcess(settings: settings, logger: Logger(label: "admin-service-tests"))
    defer {
      process.requestShutdown()
      process.waitUntilStopped()
    }
    let port = process.adminPort
    XCTAssertGreaterThan(port, 0)
    let listed = admin(port, "ListModels", "{}")
    XCTAssertEqual(listed.status, 0, listed.reply)
    XCTAssertTrue(listed.reply.contains("\"popularity\""), listed.reply)
    let plugins = admin(port, "ListPlugins", "{}")
    XCTAssertEqual(plugins.status, 0, plugins.reply)
    XCTAssertTrue(plugins.reply.contains("\"1.3\""), "plugins report this header's ABI: \(plugins.reply)")

    let cases: [(method: String, json: String, status: Int32, words: String)] = [
      ("SetVersionPolicy", #"{"model": "popularity", "pin": "9"}"#, 9, "no complete version 9"),
      ("SetVersionPolicy", #"{"model": "nope", "latest": true}"#, 5, "\"nope\""),
      ("SetItemSet", #"{"name": "", "item_ids": ["1"]}"#, 3, "is not allowed"),
      ("SetItemSet", #"{"name": "out_of_stock", "item_ids": ["1", "2"]}"#, 0, "out_of_stock"),
    ]
    for (method, json, status, words) in cases {
      let (got, reply) = admin(port, method, json)
      XCTAssertEqual(got, status, "\(method) \(json): \(reply)")
      XCTAssertTrue(reply.contains(words), "\(method) \(json): \(reply)")
    }
  }
}

import Sidecar
import XCTest

final class MetricsHTTPTests: XCTestCase {
  private func parse(_ text: String) -> MetricsHTTP.Request { MetricsHTTP.parse(Array(text.utf8)[...]) }

  private func status(_ request: MetricsHTTP.Request) -> String {
    let response = String(decoding: MetricsHTTP.response(to: request) { Array("up 1\n".utf8) }, as: UTF8.self)
    return response.components(separatedBy: "\r\n")[0]
  }

  func testScrapeAnswersTheExpositionWithItsContentType() {
    let request = parse("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n")
    XCTAssertEqual(request, .complete(method: "GET", path: "/metrics"))
    let response = String(decoding: MetricsHTTP.response(to: request) { Array("up 1\n".utf8) }, as: UTF8.self)
    XCTAssertTrue(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
    XCTAssertTrue(response.contains("Content-Type: text/plain; version=0.0.4"))
    XCTAssertTrue(response.contains("Content-Length: 5\r\n"))
    XCTAssertTrue(response.hasSuffix("\r\n\r\nup 1\n"))
  }

  func testQueryStringsBareNewlinesAndHeadAreAccepted() {
    XCTAssertEqual(parse("GET /metrics?name[]=x HTTP/1.0\n\n"), .complete(method: "GET", path: "/metrics"))
    let head = String(decoding: MetricsHTTP.response(to: parse("HEAD /metrics HTTP/1.1\r\n\r\n")) { Array("up 1\n".utf8) },
                      as: UTF8.self)
    XCTAssertTrue(head.hasPrefix("HTTP/1.1 200 OK") && head.hasSuffix("\r\n\r\n"))
  }

  func testIncompleteUntilTheHeadersEnd() {
    XCTAssertEqual(parse(""), .incomplete)
    XCTAssertEqual(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n"), .incomplete)
  }

  func testOtherPathsMethodsAndGarbageGetErrors() {
    XCTAssertEqual(status(parse("GET / HTTP/1.1\r\n\r\n")), "HTTP/1.1 404 Not Found")
    XCTAssertEqual(status(parse("GET /metricsx HTTP/1.1\r\n\r\n")), "HTTP/1.1 404 Not Found")
    XCTAssertEqual(status(parse("POST /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 405 Method Not Allowed")
    for garbage in ["garbage\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n",
                    "GET /metrics SPDY/3\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n", "\r\n\r\n"] {
      XCTAssertEqual(parse(garbage), .malformed, garbage)
    }
    XCTAssertEqual(MetricsHTTP.parse(([0xff, 0x00, 0x20] + Array("\n\n".utf8))[...]), .malformed)
  }

  func testOversizedRequestsAreRefusedWithoutReadingOn() {
    let endless = "GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: MetricsHTTP.maxRequestBytes)
    XCTAssertEqual(parse(endless), .tooLarge)
    XCTAssertEqual(parse(endless + "\r\n\r\n"), .tooLarge)
    XCTAssertEqual(status(.tooLarge), "HTTP/1.1 431 Request Header Fields Too Large")
  }

  func testListenAddresses() throws {
    XCTAssertEqual(try MetricsServer.endpoint("127.0.0.1:9464").host, "127.0.0.1")
    XCTAssertEqual(try MetricsServer.endpoint("[::1]:9464").host, "::1")
    XCTAssertNil(try MetricsServer.endpoint(":9464").host)
    XCTAssertEqual(try MetricsServer.endpoint("0.0.0.0:0").port, 0)
    for bad in ["9464", "localhost", "host:", "host:65536", "::1:9464", "host:port"] {
      XCTAssertThrowsError(try MetricsServer.endpoint(bad), bad) { error in
        XCTAssertTrue("\(error)".contains("metrics_listen"), "\(error)")
      }
    }
  }
}

/// The whole HTTP the metrics listener speaks, without sockets: one request per connection,
/// GET (or HEAD) /metrics answers the exposition, anything else a short error. Every answer
/// closes the connection.
public enum MetricsHTTP {
  /// The most a request (line + headers) may take; a scraper sends a few hundred bytes.
  public static let maxRequestBytes = 8 * 1024
  public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

  /// What the bytes received so far say.
  public enum Request: Equatable {
    /// The headers have not ended yet; read more.
    case incomplete
    case complete(method: String, path: String)
    case malformed
    case tooLarge
  }

  public static func parse(_ bytes: ArraySlice<UInt8>) -> Request {
    guard let end = headerEnd(bytes) else { return bytes.count >= maxRequestBytes ? .tooLarge : .incomplete }
    if end - bytes.startIndex > maxRequestBytes { return .tooLarge }
    let lineEnd = bytes[..<end].firstIndex(of: UInt8(ascii: "\n")) ?? end
    var line = bytes[bytes.startIndex..<lineEnd]
    if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
    let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
    guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ (65...90).contains($0) }),
          parts[1].first == UInt8(ascii: "/"), parts[1].allSatisfy({ (0x21...0x7e).contains($0) }),
          parts[2].starts(with: "HTTP/1.".utf8)
    else { return .malformed }
    let target = parts[1]
    let path = target[..<(target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex)]
    return .complete(method: String(decoding: parts[0], as: UTF8.self), path: String(decoding: path, as: UTF8.self))
  }

  /// The response to a parsed request; `body` runs only for a scrape.
  public static func response(to request: Request, body: () -> [UInt8]) -> [UInt8] {
    switch request {
    case .complete(let method, "/metrics") where method == "GET" || method == "HEAD":
      let exposition = body()
      return head(200, "OK", type: contentType, length: exposition.count) + (method == "GET" ? exposition : [])
    case .complete(_, "/metrics"):
      return plain(405, "Method Not Allowed", "use GET /metrics\n", extra: "Allow: GET, HEAD\r\n")
    case .complete:
      return plain(404, "Not Found", "not found; metrics are at /metrics\n")
    case .tooLarge:
      return plain(431, "Request Header Fields Too Large", "request headers exceed \(maxRequestBytes) bytes\n")
    case .malformed, .incomplete:
      return plain(400, "Bad Request", "bad request\n")
    }
  }

  /// A request that timed out before its headers ended.
  public static let timeoutResponse = plain(408, "Request Timeout", "request timed out\n")

  private static func plain(_ code: Int, _ reason: String, _ text: String, extra: String = "") -> [UInt8] {
    head(code, reason, type: "text/plain; charset=utf-8", length: text.utf8.count, extra: extra) + Array(text.utf8)
  }

  private static func head(_ code: Int, _ reason: String, type: String, length: Int, extra: String = "") -> [UInt8] {
    Array("HTTP/1.1 \(code) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(length)\r\n\(extra)Connection: close\r\n\r\n".utf8)
  }

  /// The index just past the blank line that ends the headers (CRLF or bare LF), if any.
  private static func headerEnd(_ bytes: ArraySlice<UInt8>) -> Int? {
    var index = bytes.startIndex
    while let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) {
      let next = newline + 1
      if next < bytes.endIndex && bytes[next] == UInt8(ascii: "\n") { return next + 1 }
      if next + 1 < bytes.endIndex && bytes[next] == UInt8(ascii: "\r") && bytes[next + 1] == UInt8(ascii: "\n") {
        return next + 2
      }
      index = next
      if index >= bytes.endIndex { break }
    }
    return nil
  }
}

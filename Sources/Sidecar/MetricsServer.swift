import Foundation

#if canImport(Glibc)
  import Glibc
  private let streamSocket = Int32(SOCK_STREAM.rawValue)
  private let sendFlags = Int32(MSG_NOSIGNAL)
#else
  import Darwin
  private let streamSocket = SOCK_STREAM
  private let sendFlags: Int32 = 0
#endif

/// A small HTTP listener for Prometheus scrapes on its own thread: POSIX sockets, one
/// connection at a time (a scrape every few seconds), each bounded in size
/// (`MetricsHTTP.maxRequestBytes`) and time (`connectionTimeout`), closed after one answer.
/// Bad input gets a 4xx and a closed connection, never a crash.
public final class MetricsServer: @unchecked Sendable {
  /// The port it listens on (useful when the address asked for port 0).
  public let port: Int
  private let socket: Int32
  private let render: @Sendable () -> [UInt8]
  private let connectionTimeout: Double
  private let stopLock = NSLock()
  private var stopping = false  // under stopLock
  private let finished = DispatchSemaphore(value: 0)

  public struct StartError: Error, CustomStringConvertible {
    public let description: String
  }

  /// `address`: host:port, [v6]:port or :port (all interfaces); port 0 picks one.
  public init(listen address: String, connectionTimeout: Double = 2, render: @escaping @Sendable () -> [UInt8]) throws {
    let (host, port) = try Self.endpoint(address)
    var hints = addrinfo()
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = streamSocket
    var found: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, String(port), &hints, &found)
    guard status == 0, let info = found else {
      throw StartError(description: "metrics_listen \(address): cannot resolve \(host ?? "*"): \(String(cString: gai_strerror(status)))")
    }
    defer { freeaddrinfo(found) }
    let fd = makeSocket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
    guard fd >= 0 else { throw StartError(description: "metrics_listen \(address): socket: \(Self.lastError())") }
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 16) == 0 else {
      let error = Self.lastError()
      close(fd)
      throw StartError(description: "metrics_listen \(address): cannot listen: \(error)")
    }
    var bound = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    withUnsafeMutablePointer(to: &bound) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
    }
    let family = Int32(bound.ss_family)
    let boundPort: UInt16 = withUnsafeBytes(of: &bound) { raw in
      family == AF_INET6
        ? raw.load(fromByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \.sin6_port)!, as: UInt16.self)
        : raw.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_port)!, as: UInt16.self)
    }
    self.port = Int(UInt16(bigEndian: boundPort))
    self.socket = fd
    self.render = render
    self.connectionTimeout = connectionTimeout
    let thread = Thread { [self] in acceptLoop() }
    thread.name = "recsys.metrics-http"
    thread.start()
  }

  /// Stops accepting, waits for the connection being served (at most `connectionTimeout`), closes.
  public func stop() {
    let first = stopLock.withLock { () -> Bool in
      defer { stopping = true }
      return !stopping
    }
    guard first else { return }
    finished.wait()
    close(socket)
  }

  private var isStopping: Bool { stopLock.withLock { stopping } }

  private func acceptLoop() {
    defer { finished.signal() }
    while !isStopping {
      var waiting = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
      guard poll(&waiting, 1, 200) > 0 else { continue }
      let connection = accept(socket, nil, nil)
      if connection < 0 { continue }
      serve(connection)
      close(connection)
    }
  }

  /// Reads one request within the deadline, answers it, and returns (the caller closes).
  private func serve(_ connection: Int32) {
    let deadline = Date().addingTimeInterval(connectionTimeout)
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 2_048)
    var request = MetricsHTTP.Request.incomplete
    while request == .incomplete {
      let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1_000))
      var waiting = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
      guard remaining > 0, poll(&waiting, 1, remaining) > 0 else {
        write(MetricsHTTP.timeoutResponse, to: connection, until: deadline.addingTimeInterval(connectionTimeout))
        return
      }
      let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
      if count <= 0 { return }  // closed or failed before a whole request
      received += chunk[..<count]
      request = MetricsHTTP.parse(received[...])
    }
    let response = MetricsHTTP.response(to: request, body: render)
    write(response, to: connection, until: deadline.addingTimeInterval(connectionTimeout))
    lingeringClose(connection)
  }

  /// Closing with unread bytes (a body we ignored) makes the kernel send a reset, which can
  /// destroy the answer before the client reads it: say we are done, then read what is left
  /// (at most 64 KiB or 0.5 s) until the client closes too.
  private func lingeringClose(_ connection: Int32) {
    shutdown(connection, Int32(SHUT_WR))
    var chunk = [UInt8](repeating: 0, count: 2_048)
    var drained = 0
    let deadline = Date().addingTimeInterval(0.5)
    while drained < 64 * 1_024 {
      let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1_000))
      var waiting = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
      guard remaining > 0, poll(&waiting, 1, remaining) > 0 else { return }
      let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
      if count <= 0 { return }
      drained += count
    }
  }

  private func write(_ bytes: [UInt8], to connection: Int32, until deadline: Date) {
    var sent = 0
    while sent < bytes.count {
      let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1_000))
      var waiting = pollfd(fd: connection, events: Int16(POLLOUT), revents: 0)
      guard remaining > 0, poll(&waiting, 1, remaining) > 0 else { return }
      let count = bytes.withUnsafeBytes { send(connection, $0.baseAddress! + sent, $0.count - sent, sendFlags) }
      if count <= 0 { return }
      sent += count
    }
  }

  /// host:port -> (host, port); "" or "*" host means every interface. Throws naming the problem.
  public static func endpoint(_ address: String) throws -> (host: String?, port: Int) {
    let problem = { (why: String) in
      StartError(description: "metrics_listen \"\(address)\" \(why); use host:port, [v6]:port or :port (\"\" turns metrics off)")
    }
    guard let colon = address.lastIndex(of: ":") else { throw problem("has no port") }
    guard let port = Int(address[address.index(after: colon)...]), (0...65_535).contains(port) else {
      throw problem("has no port from 0 to 65535")
    }
    var host = String(address[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    if host.contains(":") && !address.hasPrefix("[") { throw problem("needs brackets around an IPv6 host") }
    return (host.isEmpty || host == "*" ? nil : host, port)
  }

  private static func lastError() -> String { String(cString: strerror(errno)) }
}

/// `socket` is shadowed by the stored property inside the class.
private func makeSocket(_ domain: Int32, _ type: Int32, _ proto: Int32) -> Int32 { socket(domain, type, proto) }

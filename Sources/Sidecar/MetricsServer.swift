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

/// A small HTTP listener for Prometheus scrapes on its own thread: POSIX sockets and one
/// poll() loop that serves up to `maxConnections` connections at once, each bounded in size
/// (`MetricsHTTP.maxRequestBytes`) and time (`connectionTimeout` to send the request, the same
/// again to take the answer), closed after one answer. Connections that idle (slowloris) cost a
/// slot each and are cut at their deadline; when every slot is taken, a new connection evicts the
/// one closest to its deadline, so a scraper never waits behind idle connections.
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

  /// Stops accepting, closes every connection (within one poll interval, 0.2 s) and the listener.
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

  /// Connections served at once; more evict the oldest.
  static let maxConnections = 32

  /// One connection's progress: read the request, write the answer, then drain what the client
  /// still sends until it closes (see `lingering`).
  private struct Connection {
    enum Phase { case reading, writing, lingering }
    let fd: Int32
    var phase = Phase.reading
    var deadline: Date
    var received: [UInt8] = []
    var answer: [UInt8] = []
    var sent = 0
    var drained = 0
  }

  private func acceptLoop() {
    defer { finished.signal() }
    var connections: [Connection] = []
    var chunk = [UInt8](repeating: 0, count: 2_048)
    while !isStopping {
      var waiting = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0)]
      for connection in connections {
        let events = connection.phase == .writing ? POLLOUT : POLLIN
        waiting.append(pollfd(fd: connection.fd, events: Int16(events), revents: 0))
      }
      let nearest = connections.map(\.deadline).min().map { max(0, $0.timeIntervalSinceNow) } ?? 0.2
      let ready = poll(&waiting, nfds_t(waiting.count), Int32(min(0.2, nearest) * 1_000) + 1)
      let now = Date()
      if ready > 0 {
        for index in connections.indices where waiting[index + 1].revents != 0 {
          step(&connections[index], now: now, chunk: &chunk)
        }
      }
      for index in connections.indices where connections[index].deadline <= now {
        expire(&connections[index], now: now)
      }
      connections.removeAll { $0.fd < 0 }
      if ready > 0 && waiting[0].revents & Int16(POLLIN) != 0 {
        let fd = accept(socket, nil, nil)
        if fd >= 0 {
          _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
          if connections.count >= Self.maxConnections,
             let oldest = connections.indices.min(by: { connections[$0].deadline < connections[$1].deadline })
          {
            close(connections[oldest].fd)
            connections.remove(at: oldest)
          }
          connections.append(Connection(fd: fd, deadline: now.addingTimeInterval(connectionTimeout)))
        }
      }
    }
    for connection in connections { close(connection.fd) }
  }

  /// Advances a connection that poll() found ready; closes it (fd -1) when it is done.
  private func step(_ connection: inout Connection, now: Date, chunk: inout [UInt8]) {
    switch connection.phase {
    case .reading:
      let count = chunk.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
      if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
      guard count > 0 else { return finish(&connection) }  // closed or failed before a whole request
      connection.received += chunk[..<count]
      let request = MetricsHTTP.parse(connection.received[...])
      if request != .incomplete {
        connection.received = []
        answer(&connection, MetricsHTTP.response(to: request, body: render), now: now)
      }
    case .writing:
      let count = connection.answer.withUnsafeBytes {
        send(connection.fd, $0.baseAddress! + connection.sent, $0.count - connection.sent, sendFlags)
      }
      if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
      guard count > 0 else { return finish(&connection) }
      connection.sent += count
      if connection.sent == connection.answer.count {
        // Closing with unread bytes (a body we ignored) makes the kernel send a reset, which can
        // destroy the answer before the client reads it: say we are done, then read what is left
        // (at most 64 KiB or 0.5 s) until the client closes too.
        shutdown(connection.fd, Int32(SHUT_WR))
        connection.answer = []
        connection.phase = .lingering
        connection.deadline = now.addingTimeInterval(0.5)
      }
    case .lingering:
      let count = chunk.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
      if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
      connection.drained += max(count, 0)
      if count <= 0 || connection.drained >= 64 * 1_024 { finish(&connection) }
    }
  }

  private func answer(_ connection: inout Connection, _ bytes: [UInt8], now: Date) {
    connection.answer = bytes
    connection.sent = 0
    connection.phase = .writing
    connection.deadline = now.addingTimeInterval(connectionTimeout)
  }

  /// Past its deadline: a request that never ended gets 408; anything else is closed.
  private func expire(_ connection: inout Connection, now: Date) {
    guard connection.fd >= 0 else { return }
    if connection.phase == .reading {
      answer(&connection, MetricsHTTP.timeoutResponse, now: now)
    } else {
      finish(&connection)
    }
  }

  private func finish(_ connection: inout Connection) {
    close(connection.fd)
    connection = Connection(fd: -1, deadline: .distantPast)
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

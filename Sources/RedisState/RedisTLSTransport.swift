import CHiredis
import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// TLS to Redis (`rediss://`): which CA the server's certificate must chain to and, for mutual TLS,
/// the client certificate and key. Debian's hiredis 0.14 has no TLS, so the transport is ours
/// (a socket and OpenSSL) while hiredis still formats commands and parses replies.
public struct RedisTLSSettings: Sendable, Equatable {
  /// PEM file of the CA(s) the server's certificate must chain to; "" trusts the system CAs.
  public var caFile = ""
  /// PEM client certificate (chain) and its key, sent when the server asks (mutual TLS); both or neither.
  public var certFile = ""
  public var keyFile = ""

  public init(caFile: String = "", certFile: String = "", keyFile: String = "") {
    self.caFile = caFile
    self.certFile = certFile
    self.keyFile = keyFile
  }

  /// Loads the files into a TLS context (the same check every connection makes): throws a message
  /// naming the file that is missing, unreadable or not a certificate / key.
  public func check() throws {
    SSL_CTX_free(try RedisTLSTransport.makeContext(self))
  }

  var trusted: String { caFile.isEmpty ? "the system CAs" : "CA file \(caFile)" }
}

/// One TLS connection to Redis: a TCP socket with the plain path's timeout for connect, reads and
/// writes (SO_SNDTIMEO / SO_RCVTIMEO), OpenSSL's handshake verifying the certificate and the host
/// (or IP address), commands encoded by `redisFormatCommandArgv` and replies parsed by a hiredis
/// `redisReader` fed from `SSL_read`: the same `redisReply` objects the plain path yields.
final class RedisTLSTransport {
  private let socket: Int32
  private let context: OpaquePointer
  private let ssl: OpaquePointer
  private let reader: UnsafeMutablePointer<redisReader>
  private let peer: String
  private let timeout: timeval
  /// No reply read yet: with TLS 1.3 a server that wants a client certificate (and got none, or
  /// one it rejects) only says so after the handshake, by closing the connection.
  private var answered = false
  private let clientCertificate: String

  init(host: String, port: Int, timeout: timeval, tls: RedisTLSSettings) throws {
    peer = "\(host):\(port)"
    self.timeout = timeout
    clientCertificate = tls.certFile
    let context = try Self.makeContext(tls)
    var socket: Int32 = -1
    do { socket = try Self.connectSocket(host: host, port: port, timeout: timeout) } catch {
      SSL_CTX_free(context)
      throw error
    }
    guard let ssl = SSL_new(context), let reader = redisReaderCreate() else {
      close(socket)
      SSL_CTX_free(context)
      throw RedisError("cannot allocate a TLS connection to Redis at \(host):\(port)")
    }
    self.socket = socket
    self.context = context
    self.ssl = ssl
    self.reader = reader
    // From here on deinit frees everything, also when init throws.
    SSL_set_fd(ssl, socket)
    // The certificate must name the host: an IP address as an IP SAN, a name as a DNS SAN (and SNI).
    ERR_clear_error()
    if X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1 {
      ERR_clear_error()
      guard SSL_set1_host(ssl, host) == 1 else {
        throw RedisError("cannot check the certificate of Redis at \(peer) against host \(host): \(Self.openSSLErrors())")
      }
      _ = recsys_ssl_set_sni(ssl, host)
    }
    ERR_clear_error()
    errno = 0
    let connected = Self.withoutSIGPIPE { SSL_connect(ssl) }
    if connected != 1 {
      let verified = SSL_get_verify_result(ssl)
      if verified != X509_V_OK {
        let reason = String(cString: X509_verify_cert_error_string(verified))
        throw RedisError("""
          TLS handshake with Redis at \(peer) failed: its certificate was rejected: \(reason) \
          (host \(host), checked against \(tls.trusted))
          """)
      }
      throw RedisError("TLS handshake with Redis at \(peer) failed: \(describeCode(SSL_get_error(ssl, connected)))")
    }
  }

  deinit {
    SSL_free(ssl)
    close(socket)
    SSL_CTX_free(context)
    redisReaderFree(reader)
  }

  /// Sends every command in one write, then reads a reply per command, in order. Replies are
  /// hiredis objects the caller frees with freeReplyObject.
  func roundTrip(_ commands: [[String]], _ body: (UnsafeMutablePointer<redisReply>) -> Void) throws {
    var payload = [UInt8]()
    for arguments in commands {
      var formatted: UnsafeMutablePointer<CChar>?
      let length = RedisConnection.withArgv(arguments) { argc, argv, lengths in
        redisFormatCommandArgv(&formatted, argc, argv, lengths)
      }
      guard length >= 0, let formatted else { throw RedisError("cannot format a Redis command") }
      payload.append(contentsOf: UnsafeRawBufferPointer(start: formatted, count: Int(length)))
      redisFreeCommand(formatted)
    }
    try write(payload)
    var buffer = [CChar](repeating: 0, count: 16 * 1024)
    for _ in commands {
      var raw: UnsafeMutableRawPointer?
      while true {
        if redisReaderGetReply(reader, &raw) != REDIS_OK {
          let text = withUnsafeBytes(of: reader.pointee.errstr) {
            String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
          }
          throw RedisError("Redis at \(peer) sent a reply hiredis cannot parse: \(text)")
        }
        if raw != nil { break }
        let count = try buffer.withUnsafeMutableBytes { bytes in try read(into: bytes) }
        if redisReaderFeed(reader, buffer, count) != REDIS_OK {
          throw RedisError("Redis at \(peer): cannot buffer its reply")
        }
      }
      answered = true
      let reply = raw!.assumingMemoryBound(to: redisReply.self)
      body(reply)
      freeReplyObject(raw)
    }
  }

  private func write(_ payload: [UInt8]) throws {
    var offset = 0
    while offset < payload.count {
      ERR_clear_error()
      errno = 0
      let written = payload.withUnsafeBytes { bytes in
        Self.withoutSIGPIPE { SSL_write(ssl, bytes.baseAddress! + offset, Int32(min(bytes.count - offset, Int(Int32.max)))) }
      }
      if written <= 0 {
        throw RedisError("Redis connection failed: TLS write to \(peer): \(describe(SSL_get_error(ssl, written)))")
      }
      offset += Int(written)
    }
  }

  private func read(into bytes: UnsafeMutableRawBufferPointer) throws -> Int {
    ERR_clear_error()
    errno = 0
    let count = Self.withoutSIGPIPE { SSL_read(ssl, bytes.baseAddress, Int32(bytes.count)) }
    if count <= 0 {
      throw RedisError("Redis connection failed: TLS read from \(peer): \(describe(SSL_get_error(ssl, count)))")
    }
    return Int(count)
  }

  /// SSL_get_error's code, with the system or OpenSSL error behind it (and, before the first
  /// reply, what a refused client certificate looks like).
  private func describe(_ code: Int32) -> String {
    let reason = describeCode(code)
    guard !answered else { return reason }
    return reason + (clientCertificate.isEmpty
      ? " (right after the handshake: does the server require a client certificate? none is configured)"
      : " (right after the handshake: did the server reject the client certificate \(clientCertificate)?)")
  }

  private func describeCode(_ code: Int32) -> String {
    let systemError = errno
    switch code {
    case SSL_ERROR_ZERO_RETURN: return "the server closed the connection"
    case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
      return "timed out after \(Self.milliseconds(timeout)) ms"
    case SSL_ERROR_SYSCALL:
      let queued = Self.openSSLErrors()
      if !queued.isEmpty { return queued }
      if systemError == EAGAIN || systemError == EWOULDBLOCK {
        return "timed out after \(Self.milliseconds(timeout)) ms"
      }
      if systemError == 0 { return "the server closed the connection" }
      return String(cString: strerror(systemError))
    default:
      let queued = Self.openSSLErrors()
      return queued.isEmpty ? "TLS error \(code)" : queued
    }
  }

  /// Runs `body` (an OpenSSL call that may write to the socket) with SIGPIPE blocked on this thread,
  /// discarding one it raised: a server that closed the connection must fail the call (EPIPE), not
  /// kill the process, which does not ignore SIGPIPE (hiredis' plain path never writes twice into
  /// a closed connection; a TLS write of several records could).
  static func withoutSIGPIPE<Result>(_ body: () -> Result) -> Result {
    var pipe = sigset_t()
    sigemptyset(&pipe)
    sigaddset(&pipe, SIGPIPE)
    var previous = sigset_t()
    pthread_sigmask(SIG_BLOCK, &pipe, &previous)
    let wasPending: Bool = {
      var pending = sigset_t()
      sigpending(&pending)
      return sigismember(&pending, SIGPIPE) == 1
    }()
    let result = body()
    let error = errno
    var pending = sigset_t()
    sigpending(&pending)
    if !wasPending && sigismember(&pending, SIGPIPE) == 1 {
      var now = timespec()
      _ = sigtimedwait(&pipe, nil, &now)
    }
    pthread_sigmask(SIG_SETMASK, &previous, nil)
    errno = error
    return result
  }

  private static func milliseconds(_ value: timeval) -> Int { value.tv_sec * 1000 + value.tv_usec / 1000 }

  /// Every queued OpenSSL error, as text, and the queue cleared.
  static func openSSLErrors() -> String {
    var messages: [String] = []
    while case let code = ERR_get_error(), code != 0 {
      var text = [CChar](repeating: 0, count: 256)
      ERR_error_string_n(code, &text, text.count)
      messages.append(String(cString: text))
    }
    return messages.joined(separator: "; ")
  }

  /// A client context: TLS 1.2 or later, the peer verified against the CA file (or the system
  /// CAs), the client certificate and key loaded when given.
  static func makeContext(_ tls: RedisTLSSettings) throws -> OpaquePointer {
    ERR_clear_error()
    guard let context = SSL_CTX_new(TLS_client_method()) else {
      throw RedisError("cannot create a TLS context: \(openSSLErrors())")
    }
    func fail(_ message: String) -> RedisError {
      SSL_CTX_free(context)
      return RedisError(message)
    }
    _ = recsys_ssl_ctx_min_tls12(context)
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
    if tls.caFile.isEmpty {
      guard SSL_CTX_set_default_verify_paths(context) == 1 else {
        throw fail("cannot load the system CAs for TLS to Redis: \(openSSLErrors())")
      }
    } else {
      try readable(tls.caFile, "CA file", context)
      guard SSL_CTX_load_verify_locations(context, tls.caFile, nil) == 1 else {
        throw fail("Redis TLS CA file \(tls.caFile) holds no usable certificate: \(openSSLErrors())")
      }
    }
    if tls.certFile.isEmpty != tls.keyFile.isEmpty {
      throw fail("a Redis TLS client certificate needs both a certificate file and a key file")
    }
    if !tls.certFile.isEmpty {
      try readable(tls.certFile, "client certificate file", context)
      try readable(tls.keyFile, "client key file", context)
      guard SSL_CTX_use_certificate_chain_file(context, tls.certFile) == 1 else {
        throw fail("Redis TLS client certificate file \(tls.certFile) holds no usable certificate: \(openSSLErrors())")
      }
      guard SSL_CTX_use_PrivateKey_file(context, tls.keyFile, SSL_FILETYPE_PEM) == 1 else {
        throw fail("Redis TLS client key file \(tls.keyFile) holds no usable private key: \(openSSLErrors())")
      }
      guard SSL_CTX_check_private_key(context) == 1 else {
        throw fail("Redis TLS client key file \(tls.keyFile) does not match certificate \(tls.certFile): \(openSSLErrors())")
      }
    }
    return context
  }

  private static func readable(_ path: String, _ what: String, _ context: OpaquePointer) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      SSL_CTX_free(context)
      throw RedisError("Redis TLS \(what) \(path) does not exist")
    }
    guard !isDirectory.boolValue, FileManager.default.isReadableFile(atPath: path) else {
      SSL_CTX_free(context)
      throw RedisError("Redis TLS \(what) \(path) cannot be read")
    }
  }

  /// A connected TCP socket (every address of `host` in turn), TCP_NODELAY, with `timeout` on
  /// connect, reads and writes (Linux's connect honours SO_SNDTIMEO).
  private static func connectSocket(host: String, port: Int, timeout: timeval) throws -> Int32 {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var found: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, String(port), &hints, &found)
    guard status == 0, let first = found else {
      throw RedisError("cannot connect to Redis at \(host):\(port): \(String(cString: gai_strerror(status)))")
    }
    defer { freeaddrinfo(first) }
    var lastError: Int32 = 0
    var candidate: UnsafeMutablePointer<addrinfo>? = first
    while let address = candidate {
      candidate = address.pointee.ai_next
      let socket = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
      if socket < 0 {
        lastError = errno
        continue
      }
      var limit = timeout
      var one: Int32 = 1
      setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
      setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
      setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
      if connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return socket }
      lastError = errno
      close(socket)
    }
    let reason = lastError == EINPROGRESS || lastError == EAGAIN
      ? "connection timed out after \(milliseconds(timeout)) ms" : String(cString: strerror(lastError))
    throw RedisError("cannot connect to Redis at \(host):\(port): \(reason)")
  }
}

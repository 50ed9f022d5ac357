import CHiredis
import Foundation

/// One Redis reply, copied out of hiredis' memory.
public enum RedisReply: Equatable, Sendable {
  case string(String)
  case integer(Int64)
  case array([RedisReply])
  case null
  case status(String)
  case error(String)

  /// A bulk or status string; nil for other replies.
  public var text: String? {
    switch self {
    case .string(let text), .status(let text): return text
    default: return nil
    }
  }
}

/// The connection failed (refused, closed, timed out) or answered with an error where none was
/// expected. A failed connection is unusable: make a new one.
public struct RedisError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// A blocking connection: commands are argument vectors (binary-safe, never a formatted command
/// string), and a pipeline sends many before reading their replies. Plain TCP goes through hiredis'
/// own connection; TLS (`tls` set, `rediss://`) through `RedisTLSTransport`, with hiredis still
/// encoding the commands and parsing the replies.
/// Not thread-safe: each owner keeps its own (the state's worker thread, the feedback path under a lock).
public final class RedisConnection {
  private enum Transport {
    case plain(UnsafeMutablePointer<redisContext>)
    case tls(RedisTLSTransport)
  }

  private let transport: Transport
  public private(set) var broken = false

  /// Connects to host:port with `timeout` for the connect and for every later read and write
  /// (over TLS when `tls` is set: the handshake verifies the server's certificate and host),
  /// then AUTH (when `password` is not empty) and SELECT `database`.
  public init(host: String, port: Int, database: Int, password: String, timeout: Duration,
              tls: RedisTLSSettings? = nil) throws {
    let seconds = timeout.components.seconds
    let micros = timeout.components.attoseconds / 1_000_000_000_000
    let limit = timeval(tv_sec: Int(seconds), tv_usec: Int(micros))
    if let tls {
      transport = .tls(try RedisTLSTransport(host: host, port: port, timeout: limit, tls: tls))
    } else {
      guard let context = redisConnectWithTimeout(host, Int32(port), limit) else {
        throw RedisError("cannot allocate a Redis connection")
      }
      // From here on deinit frees the context, also when init throws.
      transport = .plain(context)
      if context.pointee.err != 0 {
        throw RedisError("cannot connect to Redis at \(host):\(port): \(Self.errorText(context))")
      }
      redisSetTimeout(context, limit)
    }
    if !password.isEmpty, case .error(let message) = try command(["AUTH", password]) {
      throw RedisError("Redis refused the password: \(message)")
    }
    if database != 0, case .error(let message) = try command(["SELECT", String(database)]) {
      throw RedisError("Redis refused database \(database): \(message)")
    }
  }

  deinit {
    if case .plain(let context) = transport { redisFree(context) }
  }

  /// Sends one command and waits for its reply. A Redis error reply is returned, not thrown;
  /// a broken connection throws.
  public func command(_ arguments: [String]) throws -> RedisReply {
    try pipeline([arguments])[0]
  }

  /// Sends every command, then reads every reply, in order: one round trip for the lot.
  public func pipeline(_ commands: [[String]]) throws -> [RedisReply] {
    guard !broken else { throw RedisError("the Redis connection failed earlier") }
    var replies: [RedisReply] = []
    replies.reserveCapacity(commands.count)
    switch transport {
    case .tls(let tls):
      do {
        try tls.roundTrip(commands) { replies.append(Self.convert($0)) }
      } catch {
        broken = true
        throw error
      }
    case .plain(let context):
      for arguments in commands {
        let status = Self.withArgv(arguments) { argc, argv, lengths in
          redisAppendCommandArgv(context, argc, argv, lengths)
        }
        if status != REDIS_OK { throw fail(context) }
      }
      for _ in commands {
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil { throw fail(context) }
        let reply = raw!.assumingMemoryBound(to: redisReply.self)
        replies.append(Self.convert(reply))
        freeReplyObject(raw)
      }
    }
    return replies
  }

  private func fail(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
    broken = true
    return RedisError("Redis connection failed: \(Self.errorText(context))")
  }

  private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
    let text = withUnsafeBytes(of: context.pointee.errstr) { bytes in
      String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    return text.isEmpty ? "error \(context.pointee.err)" : text
  }

  static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
    let value = reply.pointee
    func bytes() -> String {
      guard let pointer = value.str else { return "" }
      return String(decoding: UnsafeRawBufferPointer(start: pointer, count: Int(value.len)), as: UTF8.self)
    }
    switch value.type {
    case REDIS_REPLY_STRING: return .string(bytes())
    case REDIS_REPLY_STATUS: return .status(bytes())
    case REDIS_REPLY_ERROR: return .error(bytes())
    case REDIS_REPLY_INTEGER: return .integer(Int64(value.integer))
    case REDIS_REPLY_ARRAY:
      return .array((0..<Int(value.elements)).map { convert(value.element[$0]!) })
    default: return .null
    }
  }

  /// argc, argv and argvlen over one contiguous copy of the arguments' UTF-8 bytes, for `body`.
  static func withArgv<Result>(
    _ arguments: [String], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
  ) -> Result {
    let lengths = arguments.map { $0.utf8.count }
    let bytes = UnsafeMutablePointer<CChar>.allocate(capacity: max(lengths.reduce(0, +), 1))
    defer { bytes.deallocate() }
    var argv: [UnsafePointer<CChar>?] = []
    argv.reserveCapacity(arguments.count)
    var offset = 0
    for argument in arguments {
      argv.append(UnsafePointer(bytes + offset))
      for byte in argument.utf8 {
        bytes[offset] = CChar(bitPattern: byte)
        offset += 1
      }
    }
    return argv.withUnsafeMutableBufferPointer { argv in
      lengths.withUnsafeBufferPointer { body(Int32(arguments.count), argv.baseAddress!, $0.baseAddress!) }
    }
  }
}

import Foundation

/// Where and how the shared experiment state lives in Redis (config `experiment_state:
/// redis://...` or `rediss://...` for TLS, and the `experiment_state_*` keys).
public struct RedisStateSettings: Sendable, Equatable {
  public var host = "127.0.0.1"
  public var port = 6379
  public var database = 0
  public var password = ""
  /// TLS (`rediss://`): the CA the server's certificate must chain to, the client certificate
  /// and key for mutual TLS. nil is plain TCP.
  public var tls: RedisTLSSettings?
  /// Every key starts with it, so several fleets (or environments) can share one Redis.
  public var keyPrefix = "recsys:"
  /// How long a response's slate and its feedback markers are kept: feedback later than this is NOT_FOUND.
  public var feedbackTTLSeconds = 86_400
  /// How often the background worker writes what is buffered.
  public var flushInterval: Duration = .milliseconds(25)
  /// Slates (and feedback accepted while Redis is unreachable) that may wait; beyond, dropped and counted.
  public var bufferCapacity = 100_000
  /// How often the fleet's counts are reread for Thompson sampling (also after `refreshAfterEvents`
  /// feedback events recorded here).
  public var countsRefreshInterval: Duration = .milliseconds(250)
  public var refreshAfterEvents = 50
  /// Connect, read and write timeout of every Redis call.
  public var timeout: Duration = .milliseconds(500)

  public init() {}

  public struct Invalid: Error, CustomStringConvertible {
    public let description: String
  }

  /// Parses `redis://[:password@]host[:port][/db]`, or `rediss://...` for TLS (the password may
  /// instead come from a file; the TLS files are set on `tls` afterwards).
  public init(url: String) throws {
    let scheme: String
    if url.hasPrefix("redis://") {
      scheme = "redis://"
    } else if url.hasPrefix("rediss://") {
      scheme = "rediss://"
      tls = RedisTLSSettings()
    } else {
      throw Invalid(description: "experiment_state \"\(url)\" is not redis://host:port/db (or rediss:// for TLS)")
    }
    var rest = Substring(url.dropFirst(scheme.count))
    if let at = rest.lastIndex(of: "@") {
      let credentials = rest[..<at]
      password = String(credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last ?? "")
      rest = rest[rest.index(after: at)...]
    }
    if let slash = rest.firstIndex(of: "/") {
      let db = rest[rest.index(after: slash)...]
      if !db.isEmpty {
        guard let number = Int(db), number >= 0 else {
          throw Invalid(description: "experiment_state \"\(url)\": the database must be a number >= 0")
        }
        database = number
      }
      rest = rest[..<slash]
    }
    if let colon = rest.lastIndex(of: ":") {
      guard let number = Int(rest[rest.index(after: colon)...]), (1...65535).contains(number) else {
        throw Invalid(description: "experiment_state \"\(url)\": the port must be from 1 to 65535")
      }
      port = number
      rest = rest[..<colon]
    }
    guard !rest.isEmpty else { throw Invalid(description: "experiment_state \"\(url)\" names no host") }
    host = String(rest)
  }

  /// redis://host:port/db (rediss:// over TLS), without the password.
  public var address: String { "\(tls == nil ? "redis" : "rediss")://\(host):\(port)/\(database)" }
}

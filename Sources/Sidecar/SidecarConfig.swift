import Experiments
import Foundation
import ModelStore

/// Everything the sidecar is told: a YAML file (`--config`), then flags on top.
/// Unknown keys are errors, so a typo never silently does nothing.
public struct SidecarConfig: Equatable, Sendable {
  public var listen = "127.0.0.1:50051"
  /// ModelAdmin's listener; loopback by default, "" for none.
  public var adminListen = "127.0.0.1:50052"
  /// Prometheus scrapes: GET /metrics on this host:port; loopback by default, "" for none.
  /// 9464 is the port Prometheus exporters of OpenTelemetry use; bind 0.0.0.0:9464 in a pod.
  public var metricsListen = "127.0.0.1:9464"
  public var store = "demo/store"
  public var plugins = ".build/plugins"
  public var defaultModel = "mlp"
  /// How often the store and plugins directory are rescanned; 0 turns polling off.
  public var pollIntervalSeconds = 2.0
  public var models: [String: VersionPolicy] = [:]

  /// TLS for the Recommender listener: PEM certificate chain and key ("" for plaintext).
  public var tlsCert = ""
  public var tlsKey = ""
  /// PEM CA bundle client certificates are checked against; with `tlsRequireClientCert`, mTLS.
  public var tlsClientCA = ""
  public var tlsRequireClientCert = false
  /// The bearer token every ModelAdmin call must carry, inline or in a file ("" for none).
  /// Required when `adminListen` is reachable from other machines.
  public var adminToken = ""
  public var adminTokenFile = ""
  /// On SIGTERM/SIGINT, how long running calls get to finish before they are cancelled.
  public var drainSeconds = 5.0
  /// Largest request message the Recommender listener accepts (grpc's default: 4 MiB).
  public var maxReceiveMessageBytes = 4 * 1024 * 1024
  public var limits = RequestLimits()

  /// The experiments file (A/B routing); "" runs no experiments. Reread when it changes, every
  /// `pollIntervalSeconds`.
  public var experiments = ""
  /// Where each served response is logged as a JSON line; "" for no exposure log.
  public var exposureLog = ""
  /// The exposure log rotates past this size, keeping this many old files (path.1 newest).
  public var exposureLogMaxBytes = 64 << 20
  public var exposureLogKeep = 5
  /// Exposure lines waiting to be written; beyond it lines are dropped (counted), never waited for.
  public var exposureLogQueue = 65_536
  /// How many recent responses Feedback can join to (with experiments).
  public var feedbackWindow = 100_000
  /// Where experiment results live (README "Fleet"): "" in this process only; "file:PATH"
  /// snapshots them to PATH (read at start); "redis://host:port/db" shares them with a fleet
  /// ("rediss://host:port/db" over TLS).
  public var experimentState = ""
  /// The Redis password, in a file (trailing newline ignored); or in the URL.
  public var experimentStatePasswordFile = ""
  /// rediss:// only: PEM CA file the Redis server's certificate must chain to ("" for the system
  /// CAs), and a PEM client certificate and key for mutual TLS ("" for none; both or neither).
  public var experimentStateTLSCA = ""
  public var experimentStateTLSCert = ""
  public var experimentStateTLSKey = ""
  /// Prefix of every Redis key.
  public var experimentStatePrefix = "recsys:"
  /// Response slates (and feedback accepted while Redis is unreachable) that may wait to be
  /// written; beyond, dropped and counted. Impression counts are never dropped.
  public var experimentStateBuffer = 100_000
  /// How often buffered state is written to Redis (or, for file:, snapshotted), in milliseconds.
  public var experimentStateFlushMilliseconds = 25
  /// How long a response can receive feedback on any replica (Redis keeps its slate this long).
  public var feedbackTTLSeconds = 86_400
  /// One JSON line per accepted Feedback call ("" for none): the warehouse's side of the report.
  public var feedbackLog = ""

  /// The shortest admin token accepted: a guessable token is no protection.
  public static let minimumAdminTokenLength = 16

  public init() {}

  public struct Invalid: Error, CustomStringConvertible {
    public let description: String
  }

  /// Parses a config file's text; `source` names it in errors.
  public init(yaml text: String, source: String) throws {
    let root = try Self.loadYAML(text, source: source)
    guard let root = root as? [String: Any] else {
      if root == nil { return }
      throw Invalid(description: "\(source): the top level must be a mapping of settings")
    }
    let known = Self.keys.map(\.yaml) + ["models"]
    for name in root.keys.sorted() where !known.contains(name) {
      throw Invalid(description: "\(source): unknown key \"\(Excerpt.of(name))\" (known: \(known.joined(separator: ", ")))")
    }
    for key in Self.keys {
      if let value = root[key.yaml] { try set(key, fileValue: value, source: source) }
    }
    if let value = root["models"] {
      guard let models = value as? [String: Any] else {
        throw Invalid(description: "\(source): \"models\" must map model names to {pinned, labels}")
      }
      for (name, settings) in models { self.models[name] = try Self.policy(settings, at: "\(source): models.\(Excerpt.of(name))") }
    }
  }

  public init(contentsOf path: String) throws {
    try self.init(yaml: Self.readFile(path), source: path)
  }

  /// Checks settings that only make sense together; run on the final settings (file + flags).
  public func validate() throws {
    if !tlsKey.isEmpty && tlsCert.isEmpty { throw Invalid(description: "tls_key is set without tls_cert: TLS needs both") }
    if !tlsCert.isEmpty && tlsKey.isEmpty { throw Invalid(description: "tls_cert is set without tls_key: TLS needs both") }
    if !tlsClientCA.isEmpty && tlsCert.isEmpty {
      throw Invalid(description: "tls_client_ca is set without tls_cert and tls_key: client certificates need TLS")
    }
    if tlsRequireClientCert && tlsClientCA.isEmpty {
      throw Invalid(description: "tls_require_client_cert needs tls_client_ca, the CA client certificates must chain to")
    }
    try validateKeys()
    let redis = experimentState.hasPrefix("redis://") || experimentState.hasPrefix("rediss://")
    if !(experimentState.isEmpty || redis || (experimentState.hasPrefix("file:") && experimentState.count > 5)) {
      throw Invalid(description: """
        experiment_state is "\(experimentState)"; use "" (in-process), file:PATH, redis://host:port/db \
        or rediss://host:port/db (TLS)
        """)
    }
    if !experimentStatePasswordFile.isEmpty && !redis {
      throw Invalid(description: "experiment_state_password_file is set but experiment_state is not redis://... or rediss://...")
    }
    for (key, value) in [("experiment_state_tls_ca", experimentStateTLSCA), ("experiment_state_tls_cert", experimentStateTLSCert),
                         ("experiment_state_tls_key", experimentStateTLSKey)]
    where !value.isEmpty && !experimentState.hasPrefix("rediss://") {
      throw Invalid(description: "\(key) is set but experiment_state is not rediss://... (Redis over TLS)")
    }
    if experimentStateTLSCert.isEmpty != experimentStateTLSKey.isEmpty {
      throw Invalid(description: """
        experiment_state_tls_cert and experiment_state_tls_key go together: a client certificate needs its key
        """)
    }
    if !metricsListen.isEmpty {
      do { _ = try MetricsServer.endpoint(metricsListen) } catch { throw Invalid(description: Excerpt.message("\(error)")) }
    }
    let token = try adminBearerToken()
    if !adminListen.isEmpty && token.isEmpty && !ListenAddress.isLocal(adminListen) {
      throw Invalid(description: """
        admin_listen is \(Excerpt.of(adminListen)), which other machines can reach, but no admin_token is set: \
        set admin_token (or admin_token_file) so every ModelAdmin call must carry it, or bind admin_listen \
        to 127.0.0.1, ::1, localhost or unix:PATH
        """)
    }
  }

  /// The admin token from `adminToken` or `adminTokenFile` (its trailing newline dropped);
  /// "" when neither is set.
  public func adminBearerToken() throws -> String {
    if !adminToken.isEmpty && !adminTokenFile.isEmpty {
      throw Invalid(description: "admin_token and admin_token_file are both set; set one")
    }
    var token = adminToken
    var origin = "admin_token"
    if !adminTokenFile.isEmpty {
      do {
        token = try String(contentsOfFile: adminTokenFile, encoding: .utf8)
      } catch {
        throw Invalid(description: "cannot read admin_token_file \(adminTokenFile): \(error.localizedDescription)")
      }
      while let last = token.last, last.isNewline || last == " " || last == "\t" { token.removeLast() }
      origin = "admin_token_file \(adminTokenFile)"
      if token.isEmpty { throw Invalid(description: "\(origin) is empty") }
    }
    if token.isEmpty { return "" }
    // It travels as `authorization: Bearer <token>`: visible ASCII without spaces.
    guard token.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
      throw Invalid(description: "\(origin) may hold only visible ASCII characters, no spaces")
    }
    guard token.count >= Self.minimumAdminTokenLength else {
      throw Invalid(description: """
        \(origin) has \(token.count) characters; use at least \(Self.minimumAdminTokenLength) \
        (e.g. the output of openssl rand -hex 32)
        """)
    }
    return token
  }

  private static func policy(_ settings: Any, at place: String) throws -> VersionPolicy {
    guard let settings = settings as? [String: Any] else {
      throw Invalid(description: "\(place) must be a mapping with \"pinned\" and/or \"labels\"")
    }
    for key in settings.keys.sorted() where !["pinned", "labels"].contains(key) {
      throw Invalid(description: "\(place): unknown key \"\(Excerpt.of(key))\" (known: pinned, labels)")
    }
    var policy = VersionPolicy()
    if let pinned = settings["pinned"] {
      guard let version = pinned as? Int, version > 0 else {
        throw Invalid(description: "\(place).pinned must be a positive version number")
      }
      policy.pinned = version
    }
    if let labels = settings["labels"] {
      guard let labels = labels as? [String: Any] else {
        throw Invalid(description: "\(place).labels must map label names to versions, e.g. {stable: 3, canary: 4}")
      }
      for (label, version) in labels {
        guard let version = version as? Int, version > 0 else {
          throw Invalid(description: "\(place).labels.\(Excerpt.of(label)) must be a positive version number")
        }
        policy.labels[label] = version
      }
    }
    return policy
  }
}

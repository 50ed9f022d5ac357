import Experiments

/// Every scalar setting, declared once: its YAML key, its flag, what it takes, its help. The YAML
/// reader, the flag parser, `validate()`, `--print-config` and `--help` are all driven from this
/// table, so a flag is refused exactly where the file would be (`--exposure-log-keep 5000` like
/// `exposure_log_keep: 5000`). Only `models` (a mapping) is read on its own.
extension SidecarConfig {
  public struct Key: Sendable {
    /// What the setting takes, and where it lives in SidecarConfig.
    public enum Value: Sendable {
      case text(WritableKeyPath<SidecarConfig, String> & Sendable)
      /// A number >= 0 (finite).
      case seconds(WritableKeyPath<SidecarConfig, Double> & Sendable)
      /// A flag without value (`--x`, `--no-x`); true or false in the file.
      case onOff(WritableKeyPath<SidecarConfig, Bool> & Sendable)
      case whole(WritableKeyPath<SidecarConfig, Int> & Sendable, ClosedRange<Int>)
    }

    public let yaml: String
    /// The command-line spelling: `exposure_log_keep` -> `--exposure-log-keep` unless given.
    public let flag: String
    public let value: Value
    public let help: String
    /// Settings a flag clears: a flag replaces the file's setting whichever way the file gave it.
    let replaces: [WritableKeyPath<SidecarConfig, String> & Sendable]
    /// Never printed by `--print-config` (an inline secret).
    let secret: Bool

    init(_ yaml: String, flag: String? = nil, _ value: Value, _ help: String,
         replaces: [WritableKeyPath<SidecarConfig, String> & Sendable] = [], secret: Bool = false) {
      self.yaml = yaml
      self.flag = flag ?? "--" + yaml.replacingOccurrences(of: "_", with: "-")
      self.value = value
      self.help = help
      self.replaces = replaces
      self.secret = secret
    }

    /// What the key takes, for messages and help.
    public var expected: String {
      switch value {
      case .text: "a string"
      case .seconds: "a number >= 0"
      case .onOff: "true or false"
      case .whole(_, let range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
      }
    }
  }

  public static let keys: [Key] = [
    Key("listen", .text(\.listen), "Address the Recommender service listens on (host:port; port 0 picks one)."),
    Key("admin_listen", .text(\.adminListen), """
      Address of the ModelAdmin service: host:port or unix:PATH; "" for none. Anything but loopback or a unix \
      socket needs an admin token.
      """),
    Key("metrics_listen", .text(\.metricsListen),
        "Address of the Prometheus endpoint (GET /metrics): host:port, [v6]:port or :port; \"\" for none."),
    Key("store", .text(\.store), "Model store: <store>/<model>/<version>/{model.json,weights.safetensors}."),
    Key("plugins", .text(\.plugins), "Directory of model plugins (shared libraries), one model kind each."),
    Key("default_model", .text(\.defaultModel),
        "The model that serves requests naming none; health is SERVING while it serves."),
    Key("poll_interval_seconds", flag: "--poll-interval", .seconds(\.pollIntervalSeconds),
        "Seconds between rescans of the store and plugins directory; 0 turns polling off."),
    Key("tls_cert", .text(\.tlsCert), "PEM certificate chain: the Recommender listener speaks TLS (needs --tls-key)."),
    Key("tls_key", .text(\.tlsKey), "PEM private key of --tls-cert (unencrypted)."),
    Key("tls_client_ca", .text(\.tlsClientCA), "PEM CA bundle client certificates are checked against."),
    Key("tls_require_client_cert", .onOff(\.tlsRequireClientCert),
        "Refuse clients without a certificate from --tls-client-ca (mTLS)."),
    Key("admin_token", .text(\.adminToken),
        "Bearer token every ModelAdmin call must carry (visible in process lists: prefer --admin-token-file).",
        replaces: [\.adminTokenFile], secret: true),
    Key("admin_token_file", .text(\.adminTokenFile), "File holding the ModelAdmin bearer token (trailing newline ignored).",
        replaces: [\.adminToken]),
    Key("drain_seconds", .seconds(\.drainSeconds),
        "Seconds running calls get to finish after SIGTERM/SIGINT before they are cancelled."),
    Key("max_receive_message_bytes", .whole(\.maxReceiveMessageBytes, 1...Int(Int32.max)), "Largest request message in bytes."),
    Key("max_top_k", .whole(\.limits.maxTopK, 1...Int(Int32.max)), "Most items a request may ask for (top_k)."),
    Key("max_candidates", .whole(\.limits.maxCandidates, 1...Int(Int32.max)), "Most candidates per request."),
    Key("max_history", .whole(\.limits.maxHistory, 1...Int(Int32.max)), "Most history events per request."),
    Key("experiments", .text(\.experiments), """
      Experiments file (YAML: A/B arms, holdout, Thompson sampling, shadow models); reread when it changes, \
      every --poll-interval. An invalid file stops the start; later, it is refused and the old config serves.
      """),
    Key("exposure_log", .text(\.exposureLog), "Exposure log: one JSON line per served response, written off the request path."),
    Key("exposure_log_max_bytes", .whole(\.exposureLogMaxBytes, 4_096...Int(Int64.max)),
        "Size at which the exposure log rotates (path -> path.1 -> ...)."),
    Key("exposure_log_keep", .whole(\.exposureLogKeep, 1...1_000), "Rotated exposure-log files kept."),
    Key("exposure_log_queue", .whole(\.exposureLogQueue, 1...(1 << 24)),
        "Exposure lines that may wait to be written; beyond it lines are dropped and counted."),
    Key("feedback_window", .whole(\.feedbackWindow, 1...(1 << 26)), "Recent responses Feedback can join to (with --experiments)."),
    Key("experiment_state", .text(\.experimentState), """
      Where experiment results live: "" in this process; file:PATH snapshots them there (read at start); \
      redis://host:port/db shares them with every replica using the same Redis (README "Fleet"); \
      rediss://host:port/db does so over TLS.
      """),
    Key("experiment_state_password_file", .text(\.experimentStatePasswordFile),
        "File holding the Redis password of --experiment-state (trailing newline ignored)."),
    Key("experiment_state_tls_ca", .text(\.experimentStateTLSCA), """
      rediss:// only: PEM CA file the Redis server's certificate must chain to (its host or IP is checked too); \
      "" for the system CAs.
      """),
    Key("experiment_state_tls_cert", .text(\.experimentStateTLSCert),
        "rediss:// only: PEM client certificate (chain) sent to Redis for mutual TLS; needs --experiment-state-tls-key."),
    Key("experiment_state_tls_key", .text(\.experimentStateTLSKey),
        "rediss:// only: PEM private key (unencrypted) of --experiment-state-tls-cert."),
    Key("experiment_state_prefix", .text(\.experimentStatePrefix), "Prefix of every Redis key of the experiment state."),
    Key("experiment_state_buffer", .whole(\.experimentStateBuffer, 1...(1 << 26)), """
      Response slates (and feedback accepted while Redis is unreachable) that may wait to be written; beyond, \
      dropped and counted. Impression counts are never dropped.
      """),
    Key("experiment_state_flush_ms", .whole(\.experimentStateFlushMilliseconds, 1...600_000),
        "Milliseconds between writes of the buffered experiment state."),
    Key("feedback_ttl_seconds", .whole(\.feedbackTTLSeconds, 1...(366 * 86_400)),
        "Seconds a response can receive feedback on any replica (Redis keeps its slate)."),
    Key("feedback_log", .text(\.feedbackLog), "Feedback log: one JSON line per accepted Feedback call."),
  ]

  /// Sets `key` from a config file's value (Yams' plain value); `source` names the file.
  mutating func set(_ key: Key, fileValue: Any, source: String) throws {
    guard assign(key, fileValue) else {
      throw Invalid(description: "\(source): \"\(key.yaml)\" must be \(key.expected)")
    }
  }

  /// Sets `key` from a flag's text (`--max-top-k 50`); it meets the file's rule.
  mutating func set(_ key: Key, flagValue text: String) throws {
    let given: Any = switch key.value {
    case .text: text
    case .seconds: Double(text).map { $0 as Any } ?? text
    case .onOff: Bool(text).map { $0 as Any } ?? text
    case .whole: Int(text).map { $0 as Any } ?? text
    }
    guard assign(key, given) else {
      throw Invalid(description: "\(key.yaml) (\(key.flag)) is \(Excerpt.of(text)); it must be \(key.expected)")
    }
    for cleared in key.replaces { self[keyPath: cleared] = "" }
  }

  /// The one rule of each kind of setting: stores `given` and says true when it is acceptable.
  private mutating func assign(_ key: Key, _ given: Any) -> Bool {
    switch key.value {
    case .text(let path):
      guard let text = given as? String else { return false }
      self[keyPath: path] = text
    case .seconds(let path):
      guard let seconds = (given as? Double) ?? (given as? Int).map(Double.init), seconds >= 0, seconds.isFinite else {
        return false
      }
      self[keyPath: path] = seconds
    case .onOff(let path):
      guard let on = given as? Bool else { return false }
      self[keyPath: path] = on
    case .whole(let path, let range):
      guard let number = given as? Int, range.contains(number) else { return false }
      self[keyPath: path] = number
    }
    return true
  }

  /// The setting's current value as the file would give it.
  private func current(_ key: Key) -> Any {
    switch key.value {
    case .text(let path): self[keyPath: path]
    case .seconds(let path): self[keyPath: path]
    case .onOff(let path): self[keyPath: path]
    case .whole(let path, _): self[keyPath: path]
    }
  }

  /// The setting as a YAML value: strings quoted, numbers and booleans plain.
  public func shown(_ key: Key) -> String {
    if case .text(let path) = key.value { return Self.quoted(self[keyPath: path]) }
    return "\(current(key))"
  }

  /// Every setting within its rule (settings built in code, or flags set without `set`); the
  /// message names both spellings.
  func validateKeys() throws {
    for key in Self.keys {
      var copy = self
      guard copy.assign(key, current(key)) else {
        throw Invalid(description: "\(key.yaml) (\(key.flag)) is \(current(key)); it must be \(key.expected)")
      }
    }
  }

  /// Applies command-line settings in order: `--listen ADDR`, `--listen=ADDR`, `--tls-require-client-cert`,
  /// `--no-tls-require-client-cert`. Unknown flags are errors, like unknown keys in the file.
  public mutating func apply(flags arguments: [String]) throws {
    var rest = arguments[...]
    while let argument = rest.popFirst() {
      var name = argument
      var attached: String?
      if let equals = argument.firstIndex(of: "=") {
        name = String(argument[..<equals])
        attached = String(argument[argument.index(after: equals)...])
      }
      if let key = Self.keys.first(where: { $0.flag == name }) {
        if case .onOff = key.value, attached == nil {
          try set(key, flagValue: "true")
          continue
        }
        guard let text = attached ?? rest.popFirst() else {
          throw Invalid(description: "\(key.flag) needs a value: \(key.expected)")
        }
        try set(key, flagValue: text)
      } else if let key = Self.keys.first(where: { "--no-" + $0.flag.dropFirst(2) == name }), case .onOff = key.value,
                attached == nil {
        try set(key, flagValue: "false")
      } else {
        throw Invalid(description: argument.hasPrefix("-")
          ? "unknown option \(Excerpt.of(name)) (see --help)" : "unexpected argument \(Excerpt.of(argument))")
      }
    }
  }

  /// The flags for `--help`: each with what it takes, its YAML key and its default.
  public static var flagsHelp: String {
    let defaults = SidecarConfig()
    return keys.map { key in
      let usage = if case .onOff = key.value { "\(key.flag) | --no-\(key.flag.dropFirst(2))" } else { "\(key.flag) <value>" }
      let shownDefault = key.secret ? "\"\"" : defaults.shown(key)
      // One paragraph each (the help formatter rewraps lines), a blank line between.
      return "\(usage): \(key.help) File key \(key.yaml); \(key.expected); default \(shownDefault)."
    }.joined(separator: "\n\n")
  }
}

import ArgumentParser
import Foundation
import Logging
import ModelStore
import Sidecar
import SidecarApp

/// The sidecar process: config file + flags -> plugins -> store -> gRPC servers,
/// until SIGTERM/SIGINT; then health NOT_SERVING, no new calls, running calls drain, exit 0.
struct RecsysSidecar: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "recsys-sidecar",
    abstract: "Serves recommendation models from a versioned store over gRPC.",
    discussion: "Settings come from --config (YAML), then flags override them.")

  @Option(help: """
    YAML config file: listen, admin_listen, metrics_listen, store, plugins, default_model, poll_interval_seconds, models, \
    tls_cert, tls_key, tls_client_ca, tls_require_client_cert, admin_token, admin_token_file, drain_seconds, \
    max_receive_message_bytes, max_top_k, max_candidates, max_history, experiments, exposure_log, \
    exposure_log_max_bytes, exposure_log_keep, exposure_log_queue, feedback_window, experiment_state, \
    experiment_state_password_file, experiment_state_tls_ca, experiment_state_tls_cert, experiment_state_tls_key, \
    experiment_state_prefix, experiment_state_buffer, experiment_state_flush_ms, feedback_ttl_seconds, feedback_log.
    """)
  var config: String?

  @Option(help: "Address the Recommender service listens on (host:port; port 0 picks one). Default 127.0.0.1:50051.")
  var listen: String?

  @Option(help: """
    Address of the ModelAdmin service: host:port or unix:PATH; "" for none. Default 127.0.0.1:50052. \
    Anything but loopback or a unix socket needs an admin token.
    """)
  var adminListen: String?

  @Option(help: """
    Address of the Prometheus endpoint (GET /metrics): host:port, [v6]:port or :port; "" for none. \
    Default 127.0.0.1:9464.
    """)
  var metricsListen: String?

  @Flag(help: "Print the effective configuration (config file + flags) as YAML and exit.")
  var printConfig = false

  @Option(help: "Bearer token every ModelAdmin call must carry (visible in process lists: prefer --admin-token-file).")
  var adminToken: String?

  @Option(help: "File holding the ModelAdmin bearer token (trailing newline ignored).")
  var adminTokenFile: String?

  @Option(help: "PEM certificate chain: the Recommender listener speaks TLS (needs --tls-key).")
  var tlsCert: String?

  @Option(help: "PEM private key of --tls-cert (unencrypted).")
  var tlsKey: String?

  @Option(help: "PEM CA bundle client certificates are checked against.")
  var tlsClientCa: String?

  @Flag(inversion: .prefixedNo, help: "Refuse clients without a certificate from --tls-client-ca (mTLS).")
  var tlsRequireClientCert: Bool?

  @Option(help: "Seconds running calls get to finish after SIGTERM/SIGINT before they are cancelled. Default 5.")
  var drainSeconds: Double?

  @Option(help: "Largest request message in bytes. Default 4194304 (4 MiB).")
  var maxReceiveMessageBytes: Int?

  @Option(help: "Model store: <store>/<model>/<version>/{model.json,weights.safetensors}. Default demo/store.")
  var store: String?

  @Option(help: "Directory of model plugins (shared libraries), one model kind each. Default .build/plugins.")
  var plugins: String?

  @Option(help: "The model that serves requests naming none; health is SERVING while it serves. Default mlp.")
  var defaultModel: String?

  @Option(help: "Seconds between rescans of the store and plugins directory; 0 turns polling off. Default 2.")
  var pollInterval: Double?

  @Option(help: "Most items a request may ask for (top_k). Default 1000.")
  var maxTopK: Int?

  @Option(help: "Most candidates per request. Default 10000.")
  var maxCandidates: Int?

  @Option(help: "Most history events per request. Default 1000.")
  var maxHistory: Int?

  @Option(help: """
    Experiments file (YAML: A/B arms, holdout, Thompson sampling, shadow models); reread when it changes, \
    every --poll-interval. An invalid file stops the start; later, it is refused and the old config serves.
    """)
  var experiments: String?

  @Option(help: "Exposure log: one JSON line per served response, written off the request path. Default none.")
  var exposureLog: String?

  @Option(help: "Size at which the exposure log rotates (path -> path.1 -> ...). Default 67108864 (64 MiB).")
  var exposureLogMaxBytes: Int?

  @Option(help: "Rotated exposure-log files kept. Default 5.")
  var exposureLogKeep: Int?

  @Option(help: "Exposure lines that may wait to be written; beyond it lines are dropped and counted. Default 65536.")
  var exposureLogQueue: Int?

  @Option(help: "Recent responses Feedback can join to (with --experiments). Default 100000.")
  var feedbackWindow: Int?

  @Option(help: """
    Where experiment results live: "" in this process (default); file:PATH snapshots them there (read at start); \
    redis://host:port/db shares them with every replica using the same Redis (README "Fleet"); \
    rediss://host:port/db does so over TLS.
    """)
  var experimentState: String?

  @Option(help: "File holding the Redis password of --experiment-state (trailing newline ignored).")
  var experimentStatePasswordFile: String?

  @Option(help: """
    rediss:// only: PEM CA file the Redis server's certificate must chain to (its host or IP is checked too). \
    Default: the system CAs.
    """)
  var experimentStateTlsCa: String?

  @Option(help: "rediss:// only: PEM client certificate (chain) sent to Redis for mutual TLS; needs --experiment-state-tls-key.")
  var experimentStateTlsCert: String?

  @Option(help: "rediss:// only: PEM private key (unencrypted) of --experiment-state-tls-cert.")
  var experimentStateTlsKey: String?

  @Option(help: "Prefix of every Redis key of the experiment state. Default recsys:.")
  var experimentStatePrefix: String?

  @Option(help: """
    Response slates (and feedback accepted while Redis is unreachable) that may wait to be written; beyond, \
    dropped and counted. Impression counts are never dropped. Default 100000.
    """)
  var experimentStateBuffer: Int?

  @Option(help: "Milliseconds between writes of the buffered experiment state. Default 25.")
  var experimentStateFlushMs: Int?

  @Option(help: "Seconds a response can receive feedback on any replica (Redis keeps its slate). Default 86400.")
  var feedbackTtlSeconds: Int?

  @Option(help: "Feedback log: one JSON line per accepted Feedback call. Default none.")
  var feedbackLog: String?

  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel = "info"

  func validate() throws {
    guard Logger.Level(rawValue: logLevel) != nil else {
      throw ValidationError("--log-level \(logLevel) is not one of trace, debug, info, notice, warning, error, critical")
    }
    if let pollInterval, pollInterval < 0 { throw ValidationError("--poll-interval must be >= 0") }
    if let drainSeconds, !(drainSeconds >= 0 && drainSeconds.isFinite) { throw ValidationError("--drain-seconds must be >= 0") }
    // Whole-number flags are checked with the file's ranges (SidecarConfig.integerKeys) once merged.
  }

  /// The file's settings with the flags on top.
  func effectiveConfig() throws -> SidecarConfig {
    var settings = try config.map { try SidecarConfig(contentsOf: $0) } ?? SidecarConfig()
    settings.listen = listen ?? settings.listen
    settings.adminListen = adminListen ?? settings.adminListen
    settings.metricsListen = metricsListen ?? settings.metricsListen
    settings.store = store ?? settings.store
    settings.plugins = plugins ?? settings.plugins
    settings.defaultModel = defaultModel ?? settings.defaultModel
    settings.pollIntervalSeconds = pollInterval ?? settings.pollIntervalSeconds
    // A flag replaces the file's token, whichever way the file gave it.
    if let adminToken { (settings.adminToken, settings.adminTokenFile) = (adminToken, "") }
    if let adminTokenFile { (settings.adminToken, settings.adminTokenFile) = ("", adminTokenFile) }
    settings.tlsCert = tlsCert ?? settings.tlsCert
    settings.tlsKey = tlsKey ?? settings.tlsKey
    settings.tlsClientCA = tlsClientCa ?? settings.tlsClientCA
    settings.tlsRequireClientCert = tlsRequireClientCert ?? settings.tlsRequireClientCert
    settings.drainSeconds = drainSeconds ?? settings.drainSeconds
    settings.maxReceiveMessageBytes = maxReceiveMessageBytes ?? settings.maxReceiveMessageBytes
    settings.limits.maxTopK = maxTopK ?? settings.limits.maxTopK
    settings.limits.maxCandidates = maxCandidates ?? settings.limits.maxCandidates
    settings.limits.maxHistory = maxHistory ?? settings.limits.maxHistory
    settings.experiments = experiments ?? settings.experiments
    settings.exposureLog = exposureLog ?? settings.exposureLog
    settings.exposureLogMaxBytes = exposureLogMaxBytes ?? settings.exposureLogMaxBytes
    settings.exposureLogKeep = exposureLogKeep ?? settings.exposureLogKeep
    settings.exposureLogQueue = exposureLogQueue ?? settings.exposureLogQueue
    settings.feedbackWindow = feedbackWindow ?? settings.feedbackWindow
    settings.experimentState = experimentState ?? settings.experimentState
    settings.experimentStatePasswordFile = experimentStatePasswordFile ?? settings.experimentStatePasswordFile
    settings.experimentStateTLSCA = experimentStateTlsCa ?? settings.experimentStateTLSCA
    settings.experimentStateTLSCert = experimentStateTlsCert ?? settings.experimentStateTLSCert
    settings.experimentStateTLSKey = experimentStateTlsKey ?? settings.experimentStateTLSKey
    settings.experimentStatePrefix = experimentStatePrefix ?? settings.experimentStatePrefix
    settings.experimentStateBuffer = experimentStateBuffer ?? settings.experimentStateBuffer
    settings.experimentStateFlushMilliseconds = experimentStateFlushMs ?? settings.experimentStateFlushMilliseconds
    settings.feedbackTTLSeconds = feedbackTtlSeconds ?? settings.feedbackTTLSeconds
    settings.feedbackLog = feedbackLog ?? settings.feedbackLog
    do { _ = try ModelSelector(parsing: settings.defaultModel) } catch { throw ValidationError("default model: \(error)") }
    try settings.validate()
    return settings
  }

  func run() throws {
    // A write into a socket its peer closed (Redis restarting, a scraper that hung up) must be an
    // error the caller handles, not a signal that ends the process.
    signal(SIGPIPE, SIG_IGN)
    let level = Logger.Level(rawValue: logLevel)!
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let logger = Logger(label: "recsys-sidecar")
    let settings: SidecarConfig
    do { settings = try effectiveConfig() } catch { throw ValidationError("\(error)") }
    if printConfig {
      print(settings.yaml, terminator: "")
      return
    }

    let process: SidecarProcess
    do { process = try SidecarProcess(settings: settings, logger: logger) } catch let error as SidecarProcess.StartError {
      throw ValidationError(error.description)
    }
    process.handleSignals()
    process.waitUntilStopped()
  }
}

RecsysSidecar.main()

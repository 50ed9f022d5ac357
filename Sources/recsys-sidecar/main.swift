import ArgumentParser
import Experiments
import Foundation
import Logging
import ModelStore
import PluginHost
import RedisState
import Routing
import Sidecar

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
    for (flag, value) in [("--max-top-k", maxTopK), ("--max-candidates", maxCandidates), ("--max-history", maxHistory)]
    where value.map({ $0 < 1 || $0 > Int(Int32.max) }) ?? false {
      throw ValidationError("\(flag) must be from 1 to \(Int32.max)")
    }
    if let pollInterval, pollInterval < 0 { throw ValidationError("--poll-interval must be >= 0") }
    if let drainSeconds, !(drainSeconds >= 0 && drainSeconds.isFinite) { throw ValidationError("--drain-seconds must be >= 0") }
    if let maxReceiveMessageBytes, maxReceiveMessageBytes < 1 || maxReceiveMessageBytes > Int(Int32.max) {
      throw ValidationError("--max-receive-message-bytes must be from 1 to \(Int32.max)")
    }
    for (flag, value, lowest) in [("--exposure-log-max-bytes", exposureLogMaxBytes, 4_096), ("--exposure-log-keep", exposureLogKeep, 1),
                                  ("--exposure-log-queue", exposureLogQueue, 1), ("--feedback-window", feedbackWindow, 1),
                                  ("--experiment-state-buffer", experimentStateBuffer, 1),
                                  ("--experiment-state-flush-ms", experimentStateFlushMs, 1),
                                  ("--feedback-ttl-seconds", feedbackTtlSeconds, 1)]
    where value.map({ $0 < lowest }) ?? false {
      throw ValidationError("\(flag) must be at least \(lowest)")
    }
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

    // Metrics first: a port already taken fails the start before models load.
    let metrics = SidecarMetrics()
    let metricsServer = try settings.metricsListen.isEmpty ? nil : MetricsServer(listen: settings.metricsListen) {
      metrics.exposition()
    }

    let pluginSet = PluginSet.load(directory: settings.plugins, logger: logger)
    let registry = ModelRegistry(storePath: settings.store, plugins: pluginSet, policies: settings.models, logger: logger)
    registry.setOnLoad { metrics.modelLoadEnded(model: $0.model, succeeded: $0.succeeded) }
    registry.reload(retryFailed: false)
    // Served versions and plugin counts, read after each publish on a queue of their own
    // (the registry's accessors must not run on its queue).
    let metricsQueue = DispatchQueue(label: "recsys.metrics")
    let observeRegistry: @Sendable (ModelRegistry) -> Void = { registry in
      metricsQueue.async {
        let (loaded, refused) = registry.pluginEntries()
        let serving = Dictionary(registry.status(model: nil).map { ($0.name, $0.servingVersion ?? 0) }, uniquingKeysWith: max)
        metrics.observe(servingVersions: serving, pluginsLoaded: loaded.count, pluginsRefused: refused.count)
      }
    }
    observeRegistry(registry)

    let router = Router(defaultModel: try ModelSelector(parsing: settings.defaultModel))
    let sharedState = settings.experiments.isEmpty ? nil : try Self.redisState(settings, logger: logger, metrics: metrics)
    // Experiments load after the models they name; an invalid file stops the start.
    let experiments = settings.experiments.isEmpty ? nil : ExperimentsFile(
      path: settings.experiments, router: router, registry: registry,
      ledger: ExperimentLedger(windowCapacity: settings.feedbackWindow, state: sharedState), logger: logger)
    // file:PATH: the results of the previous run come back before anything is served.
    let snapshotFile = experiments.flatMap { experiments in
      settings.experimentState.hasPrefix("file:")
        ? ExperimentSnapshotFile(path: String(settings.experimentState.dropFirst(5)), ledger: experiments.ledger,
                                 logger: logger) : nil
    }
    snapshotFile?.restore()
    do { try experiments?.reload() } catch { throw ValidationError("experiments: \(error)") }
    snapshotFile?.start(every: Self.snapshotInterval)
    let exposureLog: ExposureLog?
    do {
      exposureLog = try settings.exposureLog.isEmpty ? nil : ExposureLog(
        settings: .init(path: settings.exposureLog, maxFileBytes: settings.exposureLogMaxBytes,
                        keepFiles: settings.exposureLogKeep, queueCapacity: settings.exposureLogQueue),
        onDrop: { metrics.exposureLogDropped.increment() })
    } catch {
      throw ValidationError("exposure log: \(error)")
    }
    let itemSets = ItemSetRegistry()
    let service = RecommendService(
      router: router, registry: registry, limits: settings.limits, logger: logger,
      metrics: metricsServer == nil ? nil : metrics, ledger: experiments?.ledger, exposureLog: exposureLog,
      itemSets: itemSets)
    let tls = settings.tlsCert.isEmpty ? nil : SidecarServer.TLS(
      certificateChain: settings.tlsCert, privateKey: settings.tlsKey, clientCA: settings.tlsClientCA,
      requireClientCertificate: settings.tlsRequireClientCert)
    let adminToken: String
    do { adminToken = try settings.adminBearerToken() } catch { throw ValidationError("\(error)") }
    let feedbackLog: FeedbackLog?
    do {
      feedbackLog = try settings.feedbackLog.isEmpty || experiments == nil ? nil : FeedbackLog(path: settings.feedbackLog)
    } catch {
      throw ValidationError("\(error)")
    }
    let server = try SidecarServer(
      listen: settings.listen, service: service, feedback: FeedbackService(ledger: experiments?.ledger, log: feedbackLog),
      adminListen: settings.adminListen.isEmpty ? nil : settings.adminListen,
      admin: settings.adminListen.isEmpty ? nil : AdminService(
        registry: registry, router: router, experiments: experiments, exposureLog: exposureLog,
        experimentState: sharedState.map { state in { state.status } } ?? snapshotFile.map { file in { file.status } },
        feedbackTTLSeconds: settings.feedbackTTLSeconds, feedbackLogPath: feedbackLog?.path, itemSets: itemSets),
      maxReceiveMessageBytes: Int32(settings.maxReceiveMessageBytes), tls: tls, adminToken: adminToken)

    // Health follows the default model (the experiments file's, when it names one): SERVING
    // exactly while it has a version serving.
    let defaultServes: @Sendable (ModelRegistry) -> Bool = { (try? $0.resolve(router.defaultModel)) != nil }
    server.setServing(defaultServes(registry))
    registry.setOnPublish {
      server.setServing(defaultServes($0))
      observeRegistry($0)
    }
    if !defaultServes(registry) {
      logger.error("default model is not serving; health stays NOT_SERVING until it does",
                   metadata: ["model": "\(router.defaultModel)"])
    }
    if settings.pollIntervalSeconds > 0 {
      registry.startPolling(every: settings.pollIntervalSeconds)
      experiments?.startPolling(every: settings.pollIntervalSeconds)
    }
    logger.info("serving", metadata: [
      "listen": "\(Self.shown(settings.listen, port: server.port))", "tls": "\(Self.tlsMode(settings))",
      "admin": "\(settings.adminListen.isEmpty ? "off" : Self.shown(settings.adminListen, port: server.adminPort))",
      "admin_token": "\(adminToken.isEmpty ? "none" : "required")",
      "metrics": "\(metricsServer.map { Self.shown(settings.metricsListen, port: $0.port) + "/metrics" } ?? "off")",
      "store": "\(settings.store)", "plugins": "\(settings.plugins)",
      "experiments": "\(settings.experiments.isEmpty ? "off" : settings.experiments)",
      "exposure_log": "\(settings.exposureLog.isEmpty ? "off" : settings.exposureLog)",
      "experiment_state": "\(sharedState?.settings.address ?? (settings.experimentState.isEmpty ? "in-process" : settings.experimentState))",
      "feedback_log": "\(feedbackLog?.path ?? "off")",
    ])

    // The first signal drains: health NOT_SERVING (watchers hear it), no new calls, running
    // calls get drain_seconds, then the process exits 0. A second one stops at once, for an
    // operator who will not wait.
    // Bounded to a year, so that a huge setting cannot overflow the conversion.
    let drainMilliseconds = Int64((min(settings.drainSeconds, 365 * 24 * 3_600) * 1_000).rounded())
    let signalQueue = DispatchQueue(label: "recsys.signals")
    var draining = false  // only touched on signalQueue
    let signals = [SIGTERM, SIGINT].map { signalNumber -> DispatchSourceSignal in
      signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
      source.setEventHandler {
        if draining {
          logger.warning("second signal: exiting without waiting for running calls", metadata: ["signal": "\(signalNumber)"])
          _exit(1)
        }
        draining = true
        logger.info("shutting down: draining running calls", metadata: [
          "signal": "\(signalNumber)", "drain_seconds": "\(settings.drainSeconds)",
        ])
        registry.setOnPublish(nil)
        server.setServing(false)
        // Off the signal queue, so that a second signal is heard while this blocks.
        DispatchQueue.global().async { server.shutdown(drainMilliseconds: drainMilliseconds) }
      }
      source.resume()
      return source
    }
    server.wait()
    experiments?.stopPolling()
    // Every answered call's exposure is queued by now: write them all before exiting.
    service.shutdown()
    // Everything buffered for the shared state is written before exiting (given 2 s when Redis is slow).
    sharedState?.close()
    snapshotFile?.stop()
    registry.stopPolling()
    metricsServer?.stop()
    withExtendedLifetime(signals) {}
    let counts = server.callCounts
    let unwritten = sharedState?.status ?? ExperimentStateStatus()
    logger.info("stopped", metadata: [
      "experiment_state_unwritten_slates": "\(unwritten.pendingSlates)",
      "experiment_state_unwritten_impressions": "\(unwritten.pendingImpressions)",
      "experiment_state_unwritten_feedback": "\(unwritten.pendingFeedback)",
      "calls_admitted": "\(counts.admitted)", "calls_refused_while_draining": "\(counts.refused)",
      "calls_cut_at_drain_deadline": "\(counts.runningAtDeadline)",
      "exposures_written": "\(exposureLog?.written ?? 0)", "exposures_dropped": "\(exposureLog?.dropped ?? 0)",
    ])
  }

  /// How often `experiment_state: file:PATH` is written (and at shutdown).
  static let snapshotInterval: Duration = .seconds(2)

  /// The Redis experiment state of `experiment_state: redis://...`, nil otherwise. Redis being down
  /// does not stop the start: the state buffers until it answers.
  private static func redisState(_ settings: SidecarConfig, logger: Logger, metrics: SidecarMetrics) throws
    -> RedisExperimentState?
  {
    guard settings.experimentState.hasPrefix("redis://") || settings.experimentState.hasPrefix("rediss://") else {
      return nil
    }
    var redis: RedisStateSettings
    do { redis = try RedisStateSettings(url: settings.experimentState) } catch { throw ValidationError("\(error)") }
    if !settings.experimentStatePasswordFile.isEmpty {
      guard var password = try? String(contentsOfFile: settings.experimentStatePasswordFile, encoding: .utf8) else {
        throw ValidationError("cannot read experiment_state_password_file \(settings.experimentStatePasswordFile)")
      }
      while let last = password.last, last.isNewline { password.removeLast() }
      redis.password = password
    }
    if redis.tls != nil {
      // Missing or unusable files stop the start, named; an unreachable or refusing server only buffers.
      let tls = RedisTLSSettings(caFile: settings.experimentStateTLSCA, certFile: settings.experimentStateTLSCert,
                                 keyFile: settings.experimentStateTLSKey)
      do { try tls.check() } catch { throw ValidationError("experiment_state \(redis.address): \(error)") }
      redis.tls = tls
    }
    redis.keyPrefix = settings.experimentStatePrefix
    redis.bufferCapacity = settings.experimentStateBuffer
    redis.flushInterval = .milliseconds(settings.experimentStateFlushMilliseconds)
    redis.feedbackTTLSeconds = settings.feedbackTTLSeconds
    let state = RedisExperimentState(settings: redis, logger: logger) { metrics.experimentStateDropped.increment() }
    if let problem = state.probe() {
      logger.warning("shared experiment state unreachable at start; buffering until it answers", metadata: [
        "address": "\(redis.address)", "error": "\(problem)",
      ])
    }
    return state
  }

  /// The address as it listens: the port filled in (port 0 picks one), a unix socket as is.
  private static func shown(_ address: String, port: Int) -> String {
    if address.hasPrefix("unix:") || address.hasPrefix("unix-abstract:") { return address }
    return "\(address.split(separator: ":").dropLast().joined(separator: ":")):\(port)"
  }

  private static func tlsMode(_ settings: SidecarConfig) -> String {
    if settings.tlsCert.isEmpty { return "off" }
    if settings.tlsRequireClientCert { return "mtls" }
    return settings.tlsClientCA.isEmpty ? "on" : "on, client certificates checked if sent"
  }
}

RecsysSidecar.main()

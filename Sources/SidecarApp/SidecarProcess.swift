import Experiments
import Foundation
import Logging
import ModelStore
import PluginHost
import RedisState
import Routing
import Sidecar

/// The composition root: one running sidecar built from its settings (metrics, plugins, store,
/// experiments, exposure log, gRPC servers), its signal handling and its shutdown order. The
/// executable only parses flags and hands over; tests start one on free ports and stop it.
public final class SidecarProcess: @unchecked Sendable {
  /// Why the sidecar could not start; the message names the setting to fix.
  public struct StartError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
  }

  /// The steps of a stop, in the order they run (see `waitUntilStopped`).
  public enum Stage: String, Sendable {
    case serverDrained, experimentsStopped, exposuresWritten, sharedStateClosed, snapshotStopped, registryStopped,
         metricsStopped
  }

  public let settings: SidecarConfig
  public let registry: ModelRegistry
  private let logger: Logger
  private let server: SidecarServer
  private let service: RecommendService
  private let metricsServer: MetricsServer?
  private let experiments: ExperimentsFile?
  private let sharedState: RedisExperimentState?
  private let snapshotFile: ExperimentSnapshotFile?
  private let exposureLog: ExposureLog?
  private let signalQueue = DispatchQueue(label: "recsys.signals")
  private var signalSources: [DispatchSourceSignal] = []
  private var draining = false  // only touched on signalQueue
  private let stagesLock = NSLock()
  private var stagesDone: [Stage] = []

  /// The Recommender port (port 0 in `listen` picks one), the ModelAdmin and metrics ports (0: off).
  public var port: Int { server.port }
  public var adminPort: Int { settings.adminListen.isEmpty ? 0 : server.adminPort }
  public var metricsPort: Int { metricsServer?.port ?? 0 }

  /// The stop steps done so far, in order.
  public var stages: [Stage] { stagesLock.withLock { stagesDone } }

  /// Builds and starts everything; serving when it returns. `settings` are validated already.
  public init(settings: SidecarConfig, logger: Logger) throws {
    self.settings = settings
    self.logger = logger
    // Metrics first: a port already taken fails the start before models load.
    let metrics = SidecarMetrics()
    metricsServer = try settings.metricsListen.isEmpty ? nil : MetricsServer(listen: settings.metricsListen) {
      metrics.exposition()
    }
    let pluginSet = PluginSet.load(directory: settings.plugins, logger: logger)
    let registry = ModelRegistry(storePath: settings.store, plugins: pluginSet, policies: settings.models, logger: logger)
    self.registry = registry
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
    self.sharedState = sharedState
    // Experiments load after the models they name; an invalid file stops the start.
    let experiments = settings.experiments.isEmpty ? nil : ExperimentsFile(
      path: settings.experiments, router: router, registry: registry,
      ledger: ExperimentLedger(windowCapacity: settings.feedbackWindow, state: sharedState), logger: logger)
    self.experiments = experiments
    // file:PATH: the results of the previous run come back before anything is served.
    let snapshotFile = experiments.flatMap { experiments in
      settings.experimentState.hasPrefix("file:")
        ? ExperimentSnapshotFile(path: String(settings.experimentState.dropFirst(5)), ledger: experiments.ledger,
                                 logger: logger) : nil
    }
    self.snapshotFile = snapshotFile
    snapshotFile?.restore()
    do { try experiments?.reload() } catch { throw StartError("experiments: \(error)") }
    snapshotFile?.start(every: Self.snapshotInterval)
    let exposureLog: ExposureLog?
    do {
      exposureLog = try settings.exposureLog.isEmpty ? nil : ExposureLog(
        settings: .init(path: settings.exposureLog, maxFileBytes: settings.exposureLogMaxBytes,
                        keepFiles: settings.exposureLogKeep, queueCapacity: settings.exposureLogQueue),
        onDrop: { metrics.exposureLogDropped.increment() })
    } catch {
      throw StartError("exposure log: \(error)")
    }
    self.exposureLog = exposureLog
    let itemSets = ItemSetRegistry()
    let service = RecommendService(
      router: router, registry: registry, limits: settings.limits, logger: logger,
      metrics: metricsServer == nil ? nil : metrics, ledger: experiments?.ledger, exposureLog: exposureLog,
      itemSets: itemSets)
    self.service = service
    let tls = settings.tlsCert.isEmpty ? nil : SidecarServer.TLS(
      certificateChain: settings.tlsCert, privateKey: settings.tlsKey, clientCA: settings.tlsClientCA,
      requireClientCertificate: settings.tlsRequireClientCert)
    let adminToken: String
    do { adminToken = try settings.adminBearerToken() } catch { throw StartError("\(error)") }
    let feedbackLog: FeedbackLog?
    do {
      feedbackLog = try settings.feedbackLog.isEmpty || experiments == nil ? nil : FeedbackLog(path: settings.feedbackLog)
    } catch {
      throw StartError("\(error)")
    }
    let server = try SidecarServer(
      listen: settings.listen, service: service, feedback: FeedbackService(ledger: experiments?.ledger, log: feedbackLog),
      adminListen: settings.adminListen.isEmpty ? nil : settings.adminListen,
      admin: settings.adminListen.isEmpty ? nil : AdminService(
        registry: registry, router: router, experiments: experiments, exposureLog: exposureLog,
        experimentState: sharedState.map { state in { state.status } } ?? snapshotFile.map { file in { file.status } },
        feedbackTTLSeconds: settings.feedbackTTLSeconds, feedbackLogPath: feedbackLog?.path, itemSets: itemSets),
      maxReceiveMessageBytes: Int32(settings.maxReceiveMessageBytes), tls: tls, adminToken: adminToken)
    self.server = server
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
  }

  /// The first of `signals` drains (see `requestShutdown`); a second one exits at once (status 1),
  /// for an operator who will not wait. The signals' default actions are off from here on.
  public func handleSignals(_ signals: [Int32] = [SIGTERM, SIGINT]) {
    signalSources = signals.map { signalNumber -> DispatchSourceSignal in
      signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
      source.setEventHandler { [unowned self] in
        if draining {
          logger.warning("second signal: exiting without waiting for running calls", metadata: ["signal": "\(signalNumber)"])
          _exit(1)
        }
        beginDrain(reason: "signal \(signalNumber)")
      }
      source.resume()
      return source
    }
  }

  /// Starts the drain: health NOT_SERVING (watchers hear it), no new calls, running calls get
  /// drain_seconds; `waitUntilStopped` then returns. Repeated requests are ignored.
  public func requestShutdown() {
    signalQueue.async { [self] in
      if !draining { beginDrain(reason: "requested") }
    }
  }

  private func beginDrain(reason: String) {
    draining = true
    logger.info("shutting down: draining running calls", metadata: [
      "reason": "\(reason)", "drain_seconds": "\(settings.drainSeconds)",
    ])
    registry.setOnPublish(nil)
    server.setServing(false)
    // Bounded to a year, so that a huge setting cannot overflow the conversion.
    let drainMilliseconds = Int64((min(settings.drainSeconds, 365 * 24 * 3_600) * 1_000).rounded())
    // Off the signal queue, so that a second signal is heard while this blocks.
    DispatchQueue.global().async { [server] in server.shutdown(drainMilliseconds: drainMilliseconds) }
  }

  /// Blocks until the servers stopped (after a drain), then stops the rest in dependency order:
  /// nothing is written after what it writes to is closed.
  public func waitUntilStopped() {
    server.wait()
    done(.serverDrained)
    experiments?.stopPolling()
    done(.experimentsStopped)
    // Every answered call's exposure is queued by now: write them all before exiting.
    service.shutdown()
    done(.exposuresWritten)
    // Everything buffered for the shared state is written before exiting (given 2 s when Redis is slow).
    sharedState?.close()
    done(.sharedStateClosed)
    snapshotFile?.stop()
    done(.snapshotStopped)
    registry.stopPolling()
    done(.registryStopped)
    metricsServer?.stop()
    done(.metricsStopped)
    for source in signalSources { source.cancel() }
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

  private func done(_ stage: Stage) { stagesLock.withLock { stagesDone.append(stage) } }

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
    do { redis = try RedisStateSettings(url: settings.experimentState) } catch { throw StartError("\(error)") }
    if !settings.experimentStatePasswordFile.isEmpty {
      guard var password = try? String(contentsOfFile: settings.experimentStatePasswordFile, encoding: .utf8) else {
        throw StartError("cannot read experiment_state_password_file \(settings.experimentStatePasswordFile)")
      }
      while let last = password.last, last.isNewline { password.removeLast() }
      redis.password = password
    }
    if redis.tls != nil {
      // Missing or unusable files stop the start, named; an unreachable or refusing server only buffers.
      let tls = RedisTLSSettings(caFile: settings.experimentStateTLSCA, certFile: settings.experimentStateTLSCert,
                                 keyFile: settings.experimentStateTLSKey)
      do { try tls.check() } catch { throw StartError("experiment_state \(redis.address): \(error)") }
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

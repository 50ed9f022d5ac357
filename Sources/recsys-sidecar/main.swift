import ArgumentParser
import Foundation
import Logging
import ModelStore
import PluginHost
import Routing
import Sidecar

/// The sidecar process: config file + flags -> plugins -> store -> gRPC servers,
/// until SIGTERM/SIGINT.
struct RecsysSidecar: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "recsys-sidecar",
    abstract: "Serves recommendation models from a versioned store over gRPC.",
    discussion: "Settings come from --config (YAML), then flags override them.")

  @Option(help: "YAML config file (listen, admin_listen, store, plugins, default_model, poll_interval_seconds, models).")
  var config: String?

  @Option(help: "Address the Recommender service listens on (host:port; port 0 picks one). Default 127.0.0.1:50051.")
  var listen: String?

  @Option(help: "Address of the ModelAdmin service; \"\" for none. Default 127.0.0.1:50052.")
  var adminListen: String?

  @Option(help: "Model store: <store>/<model>/<version>/{model.json,weights.safetensors}. Default demo/store.")
  var store: String?

  @Option(help: "Directory of model plugins (shared libraries), one model kind each. Default .build/plugins.")
  var plugins: String?

  @Option(help: "The model that serves requests naming none; health is SERVING while it serves. Default mlp.")
  var defaultModel: String?

  @Option(help: "Seconds between rescans of the store and plugins directory; 0 turns polling off. Default 2.")
  var pollInterval: Double?

  @Option(help: "Most items a request may ask for (top_k).")
  var maxTopK = 1_000

  @Option(help: "Most candidates per request.")
  var maxCandidates = 10_000

  @Option(help: "Most history events per request.")
  var maxHistory = 1_000

  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel = "info"

  func validate() throws {
    guard Logger.Level(rawValue: logLevel) != nil else {
      throw ValidationError("--log-level \(logLevel) is not one of trace, debug, info, notice, warning, error, critical")
    }
    for (flag, value) in [("--max-top-k", maxTopK), ("--max-candidates", maxCandidates), ("--max-history", maxHistory)]
    where value < 1 {
      throw ValidationError("\(flag) must be at least 1")
    }
    if let pollInterval, pollInterval < 0 { throw ValidationError("--poll-interval must be >= 0") }
  }

  /// The file's settings with the flags on top.
  func effectiveConfig() throws -> SidecarConfig {
    var settings = try config.map { try SidecarConfig(contentsOf: $0) } ?? SidecarConfig()
    settings.listen = listen ?? settings.listen
    settings.adminListen = adminListen ?? settings.adminListen
    settings.store = store ?? settings.store
    settings.plugins = plugins ?? settings.plugins
    settings.defaultModel = defaultModel ?? settings.defaultModel
    settings.pollIntervalSeconds = pollInterval ?? settings.pollIntervalSeconds
    do { _ = try ModelSelector(parsing: settings.defaultModel) } catch { throw ValidationError("default model: \(error)") }
    return settings
  }

  func run() throws {
    let level = Logger.Level(rawValue: logLevel)!
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let logger = Logger(label: "recsys-sidecar")
    let settings: SidecarConfig
    do { settings = try effectiveConfig() } catch { throw ValidationError("\(error)") }

    let pluginSet = PluginSet.load(directory: settings.plugins, logger: logger)
    let registry = ModelRegistry(storePath: settings.store, plugins: pluginSet, policies: settings.models, logger: logger)
    registry.reload(retryFailed: false)

    let defaultSelector = try ModelSelector(parsing: settings.defaultModel)
    var limits = RequestLimits()
    limits.maxTopK = maxTopK
    limits.maxCandidates = maxCandidates
    limits.maxHistory = maxHistory
    let service = RecommendService(
      router: Router(defaultModel: defaultSelector), registry: registry, limits: limits, logger: logger)
    let server = try SidecarServer(
      listen: settings.listen, service: service,
      adminListen: settings.adminListen.isEmpty ? nil : settings.adminListen,
      admin: settings.adminListen.isEmpty ? nil : AdminService(registry: registry))

    // Health follows the default model: SERVING exactly while it has a version serving.
    let defaultServes: @Sendable (ModelRegistry) -> Bool = { (try? $0.resolve(defaultSelector)) != nil }
    server.setServing(defaultServes(registry))
    registry.setOnPublish { server.setServing(defaultServes($0)) }
    if !defaultServes(registry) {
      logger.error("default model is not serving; health stays NOT_SERVING until it does",
                   metadata: ["model": "\(settings.defaultModel)"])
    }
    if settings.pollIntervalSeconds > 0 { registry.startPolling(every: settings.pollIntervalSeconds) }
    logger.info("serving", metadata: [
      "listen": "\(Self.host(settings.listen)):\(server.port)",
      "admin": "\(settings.adminListen.isEmpty ? "off" : "\(Self.host(settings.adminListen)):\(server.adminPort)")",
      "store": "\(settings.store)", "plugins": "\(settings.plugins)",
    ])

    let signals = [SIGTERM, SIGINT].map { signalNumber -> DispatchSourceSignal in
      signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
      source.setEventHandler {
        logger.info("shutting down", metadata: ["signal": "\(signalNumber)"])
        registry.setOnPublish(nil)
        server.setServing(false)
        server.shutdown(drainMilliseconds: 5_000)
      }
      source.resume()
      return source
    }
    server.wait()
    registry.stopPolling()
    withExtendedLifetime(signals) {}
    logger.info("stopped")
  }

  private static func host(_ address: String) -> String {
    address.split(separator: ":").dropLast().joined(separator: ":")
  }
}

RecsysSidecar.main()

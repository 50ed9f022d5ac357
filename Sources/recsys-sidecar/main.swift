import ArgumentParser
import Foundation
import Logging
import ModelStore
import PluginHost
import Routing
import Sidecar

/// The sidecar process: flags -> plugins -> store -> gRPC server, until SIGTERM/SIGINT.
struct RecsysSidecar: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "recsys-sidecar",
    abstract: "Serves recommendation models from a versioned store over gRPC.")

  @Option(help: "Address the Recommender service listens on (host:port; port 0 picks one).")
  var listen = "127.0.0.1:50051"

  @Option(help: "Model store: <store>/<model>/<version>/{model.json,weights.safetensors}.")
  var store = "demo/store"

  @Option(help: "Directory of model plugins (shared libraries), one model kind each.")
  var plugins = ".build/plugins"

  @Option(help: "The model that serves requests naming none; health is SERVING once it is loaded.")
  var defaultModel = "mlp"

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
    do { _ = try ModelSelector(parsing: defaultModel) } catch { throw ValidationError("--default-model: \(error)") }
    for (flag, value) in [("--max-top-k", maxTopK), ("--max-candidates", maxCandidates), ("--max-history", maxHistory)]
    where value < 1 {
      throw ValidationError("\(flag) must be at least 1")
    }
  }

  func run() throws {
    let level = Logger.Level(rawValue: logLevel)!
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let logger = Logger(label: "recsys-sidecar")

    let pluginSet = PluginSet.load(directory: plugins, logger: logger)
    let registry = ModelRegistry(storePath: store, plugins: pluginSet, logger: logger)
    registry.loadAll()

    let defaultSelector = try ModelSelector(parsing: defaultModel)
    var limits = RequestLimits()
    limits.maxTopK = maxTopK
    limits.maxCandidates = maxCandidates
    limits.maxHistory = maxHistory
    let service = RecommendService(
      router: Router(defaultModel: defaultSelector), registry: registry, limits: limits, logger: logger)
    let server = try SidecarServer(listen: listen, service: service)
    let defaultLoaded = (try? registry.resolve(defaultSelector)) != nil
    server.setServing(defaultLoaded)
    if !defaultLoaded {
      logger.error("default model is not loaded; health stays NOT_SERVING", metadata: ["model": "\(defaultModel)"])
    }
    let host = listen.split(separator: ":").dropLast().joined(separator: ":")
    logger.info("serving", metadata: ["listen": "\(host):\(server.port)", "store": "\(store)", "plugins": "\(plugins)"])

    let signals = [SIGTERM, SIGINT].map { signalNumber -> DispatchSourceSignal in
      signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
      source.setEventHandler {
        logger.info("shutting down", metadata: ["signal": "\(signalNumber)"])
        server.setServing(false)
        server.shutdown(drainMilliseconds: 5_000)
      }
      source.resume()
      return source
    }
    server.wait()
    withExtendedLifetime(signals) {}
    logger.info("stopped")
  }
}

RecsysSidecar.main()

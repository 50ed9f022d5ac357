import ArgumentParser
import Foundation
import Logging
import ModelStore
import Sidecar

/// The sidecar process: config file + flags -> plugins -> store -> gRPC servers,
/// until SIGTERM/SIGINT; then health NOT_SERVING, no new calls, running calls drain, exit 0.
/// The setting flags are not declared here: they come from `SidecarConfig.keys`, the one table
/// the config file is read from too.
public struct SidecarCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "recsys-sidecar",
    abstract: "Serves recommendation models from a versioned store over gRPC.",
    discussion: """
      Settings come from --config (YAML), then flags override them. Each setting is a flag and a \
      config-file key:

      \(SidecarConfig.flagsHelp)
      """)

  @Option(help: "YAML config file: the keys below (as file keys), and models: {NAME: {pinned, labels}}.")
  var config: String?

  @Flag(help: "Print the effective configuration (config file + flags) as YAML and exit.")
  var printConfig = false

  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel = "info"

  @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Settings as flags (listed below).", valueName: "setting"))
  var settingFlags: [String] = []

  public init() {}

  public func validate() throws {
    guard Logger.Level(rawValue: logLevel) != nil else {
      throw ValidationError("--log-level \(logLevel) is not one of trace, debug, info, notice, warning, error, critical")
    }
  }

  /// The file's settings with the flags on top, validated.
  public func effectiveConfig() throws -> SidecarConfig {
    var settings = try config.map { try SidecarConfig(contentsOf: $0) } ?? SidecarConfig()
    try settings.apply(flags: settingFlags)
    do { _ = try ModelSelector(parsing: settings.defaultModel) } catch { throw ValidationError("default model: \(error)") }
    try settings.validate()
    return settings
  }

  public func run() throws {
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

import Checksums
import Experiments
import Foundation
import Logging
import ModelStore
import Routing

/// Owns the experiments file: reads, validates (every model it names must serve now), and
/// swaps the resulting `ExperimentSet` into the router. A file that does not validate is
/// refused with a message and the config that served before keeps serving. Reloads are
/// serialised on one queue; polling rereads the file only when its content changed.
public final class ExperimentsFile: @unchecked Sendable {
  public let path: String
  public let ledger: ExperimentLedger
  private let router: Router
  private let registry: ModelRegistry
  private let logger: Logger
  private let queue = DispatchQueue(label: "recsys.experiments")
  private var pollTimer: DispatchSourceTimer?  // on `queue`

  /// What the admin API shows; read under `lock`, written on `queue`.
  public struct Status: Sendable {
    public var sha256 = ""
    public var loadedAt: Date?
    public var lastError = ""
  }
  private let lock = NSLock()
  /// `lastSeenSHA256` of a file refused for its size.
  private static let tooLarge = "too-large"
  private var status = Status()
  private var lastSeenSHA256 = ""  // on `queue`: the content last tried, served or refused
  private var servedVersions: [String: Set<Int>] = [:]  // on `queue`: numbered versions the served config names
  private var declaredVersions: [String: Set<Int>] = [:]  // on `queue`: what the registry was last told

  public struct Refused: Error, CustomStringConvertible {
    public let description: String
  }

  public init(path: String, router: Router, registry: ModelRegistry, ledger: ExperimentLedger, logger: Logger) {
    self.path = path
    self.router = router
    self.registry = registry
    self.ledger = ledger
    self.logger = logger
  }

  public var currentStatus: Status { lock.withLock { status } }

  /// Reads the file now, also when its content did not change (the models it names may have
  /// come or gone). Throws `Refused` (and the old config keeps serving) when it is invalid.
  public func reload() throws {
    try queue.sync { try load(onlyIfChanged: false) }
  }

  public func startPolling(every interval: Double) {
    let timer = DispatchSource.makeTimerSource(queue: queue)
    timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(50))
    timer.setEventHandler { [weak self] in try? self?.load(onlyIfChanged: true) }
    timer.resume()
    queue.sync { pollTimer = timer }
  }

  public func stopPolling() {
    queue.sync {
      pollTimer?.cancel()
      pollTimer = nil
    }
  }

  private func load(onlyIfChanged: Bool) throws {
    let data: Data
    do {
      data = try CappedFile.read(atPath: path, maxBytes: ExperimentsLimits.yaml.maxBytes)
    } catch let error as CappedFile.TooLarge {
      // Refused once, not at every poll; only the limit's worth was read, so there is no hash.
      if onlyIfChanged && lastSeenSHA256 == Self.tooLarge { return }
      try refuse("the experiments file \(error)", sha256: Self.tooLarge)
      return
    } catch let error as CappedFile.Unreadable {
      try refuse("cannot read the experiments file \(path): \(error.reason)", sha256: "unreadable")
      return
    }
    let sha256 = data.withUnsafeBytes { SHA256.hex(of: $0) }
    if onlyIfChanged && sha256 == lastSeenSHA256 { return }
    lastSeenSHA256 = sha256
    let config: ExperimentsConfig
    do {
      config = try ExperimentsConfig(yaml: String(decoding: data, as: UTF8.self), source: path)
    } catch {
      try refuse("\(error)", sha256: sha256)
      return
    }
    // The versions it names by number load before validation; those of the config that serves
    // stay loaded until this one replaces it.
    let versions = Self.numberedVersions(config)
    keepLoaded(versions.merging(servedVersions) { $0.union($1) })
    do {
      try config.validateModels(problem)
    } catch {
      keepLoaded(servedVersions)
      try refuse("\(error)", sha256: sha256)
      return
    }
    router.replaceExperiments(ExperimentSet(config: config, ledger: ledger))
    servedVersions = versions
    keepLoaded(versions)
    lock.withLock { status = Status(sha256: sha256, loadedAt: Date(), lastError: "") }
    logger.info("experiments loaded", metadata: [
      "path": "\(path)", "sha256": "\(sha256.prefix(12))",
      "experiments": "\(config.experiments.map(\.key).joined(separator: ","))",
    ])
  }

  /// Why a selector cannot serve, or nil. For a numbered version, whether the store lacks it or
  /// it failed to load (the serving table only knows it is not loaded).
  private func problem(_ selector: ModelSelector) -> String? {
    do {
      _ = try registry.resolve(selector)
      return nil
    } catch {
      guard case .number(let number) = selector.version, let model = registry.status(model: selector.model).first else {
        return "\(error)"
      }
      guard let version = model.versions.first(where: { $0.version == number }) else {
        return "the store has no version \(number) of model \"\(selector.model)\""
      }
      return version.error.isEmpty ? "\(error)" : "version \(number) cannot serve: \(version.error)"
    }
  }

  /// Model versions the config names by number (`mlp@7`), which the registry must keep loaded.
  static func numberedVersions(_ config: ExperimentsConfig) -> [String: Set<Int>] {
    var versions: [String: Set<Int>] = [:]
    for selector in config.selectors {
      if case .number(let number) = selector.version { versions[selector.model, default: []].insert(number) }
    }
    return versions
  }

  /// Tells the registry, when the set changed (each call rescans those models' folders).
  private func keepLoaded(_ versions: [String: Set<Int>]) {
    guard versions != declaredVersions else { return }
    declaredVersions = versions
    registry.keepLoaded(versions)
  }

  private func refuse(_ message: String, sha256: String) throws {
    lastSeenSHA256 = sha256
    lock.withLock { status.lastError = message }
    logger.error("experiments file refused; the previous config keeps serving", metadata: [
      "path": "\(path)", "error": "\(message)",
    ])
    throw Refused(description: message)
  }
}

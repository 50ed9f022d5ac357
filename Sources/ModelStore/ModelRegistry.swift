import Foundation
import Logging
import PluginHost
import RecSysStatus

/// A model version that serves: the plugin instance and where it came from.
/// Requests hold a reference for their duration, so replacing a model never pulls
/// an instance out from under a running call.
public final class ServingModel: @unchecked Sendable {
  public let name: String
  public let version: Int
  public let kind: String
  public let instance: ModelInstance

  init(name: String, version: Int, kind: String, instance: ModelInstance) {
    self.name = name
    self.version = version
    self.kind = kind
    self.instance = instance
  }
}

/// A selector that no loaded model answers, or an operator request that cannot be done.
public struct RegistryError: Error, CustomStringConvertible {
  /// The status a call that hit it ends with (notFound, failedPrecondition or invalidArgument).
  public typealias Code = StatusCode
  public let code: Code
  public let description: String

  public init(_ code: Code = .notFound, _ description: String) {
    self.code = code
    self.description = description
  }
}

/// The models the sidecar serves and every version the store holds.
///
/// All loading happens on one serial queue, off the request path: scan the store,
/// load what the policies want (LoadVersion's checks + warm-up), then publish a new
/// immutable `ServingTable` in one pointer swap. Requests read the current table under
/// a lock held only for that read; an instance lives until the last call using it ends.
/// Weights live in private memory (read once at load), so rewriting a serving version's files
/// in place never touches a running call: the old instance keeps serving until the new content
/// loads and passes every check, and keeps serving if it fails (the status says why).
public final class ModelRegistry: @unchecked Sendable {
  private let layout: StoreLayout
  private let plugins: PluginSet
  private let logger: Logger
  private let queue = DispatchQueue(label: "recsys.model-registry")

  // Published state, read by any thread under `lock`.
  private let lock = NSLock()
  private var table = ServingTable(models: [:])
  private var statuses: [String: ModelStatus] = [:]

  // Loader state, touched only on `queue`.
  private var records: [String: ModelRecord] = [:]
  private var policies: [String: VersionPolicy]
  private var pollTimer: DispatchSourceTimer?

  /// Called on the registry's queue after each swap of what serves (e.g. to update health).
  private var onPublish: (@Sendable (ModelRegistry) -> Void)?

  public func setOnPublish(_ callback: (@Sendable (ModelRegistry) -> Void)?) {
    queue.sync { onPublish = callback }
  }

  /// How one attempt to load a version ended (for counters kept outside the store, e.g. metrics).
  public struct LoadOutcome: Sendable {
    public let model: String
    public let version: Int
    public let succeeded: Bool
  }

  /// Called on the registry's queue after each attempt to load a version.
  private var onLoad: (@Sendable (LoadOutcome) -> Void)?

  public func setOnLoad(_ callback: (@Sendable (LoadOutcome) -> Void)?) {
    queue.sync { onLoad = callback }
  }

  public init(storePath: String, plugins: PluginSet, policies: [String: VersionPolicy] = [:], logger: Logger) {
    layout = StoreLayout(root: storePath)
    self.plugins = plugins
    self.policies = policies
    self.logger = logger
  }

  // MARK: Serving (any thread)

  /// The instance a selector names, or an error saying what is served instead.
  public func resolve(_ selector: ModelSelector) throws -> ServingModel {
    let current = lock.withLock { table }
    return try current.resolve(selector, statuses: { name in self.lock.withLock { self.statuses[name] } })
  }

  // MARK: Loading (serialised on the registry's queue)

  /// Scans plugins and store, loads what the policies want, and publishes the result.
  /// `retryFailed` also retries versions that failed before with unchanged files.
  public func reload(retryFailed: Bool = true) {
    queue.sync { reconcileAll(retryFailed: retryFailed) }
  }

  /// Like `reload`, without blocking the caller.
  public func reloadAsync(retryFailed: Bool = true, then done: @escaping @Sendable ([ModelStatus]) -> Void) {
    queue.async {
      self.reconcileAll(retryFailed: retryFailed)
      done(self.status(model: nil))
    }
  }

  /// Rescans every `interval` seconds: new, changed and deleted versions and plugins.
  public func startPolling(every interval: Double) {
    let timer = DispatchSource.makeTimerSource(queue: queue)
    timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(100))
    timer.setEventHandler { [weak self] in self?.reconcileAll(retryFailed: false) }
    timer.resume()
    queue.sync { pollTimer = timer }
  }

  public func stopPolling() {
    queue.sync {
      pollTimer?.cancel()
      pollTimer = nil
    }
  }

  /// Applies an operator's change; a pin or label naming a version that cannot load is refused.
  public func setPolicy(model name: String, _ change: PolicyChange) throws -> ModelStatus {
    try queue.sync {
      guard records[name] != nil || (try? layout.scanVersions(of: name)) != nil else {
        throw RegistryError(.notFound, "model \"\(name)\" is not in the store")
      }
      // A refused change still loaded (and failed) something: publish what is known either way.
      defer { publish() }
      var policy = policies[name] ?? .latest
      switch change {
      case .latest:
        policy.pinned = nil
      case .pin(let version):
        try requireLoadable(name, version, for: "pin")
        policy.pinned = version
      case .label(let label, 0):
        policy.labels[label] = nil
      case .label(let label, let version):
        guard Self.isLabel(label) else {
          throw RegistryError(.invalidArgument, "label \"\(label)\" must start with a letter and use letters, digits, '_' or '-'")
        }
        try requireLoadable(name, version, for: "label \(label)")
        policy.labels[label] = version
      }
      policies[name] = policy
      logger.info("version policy changed", metadata: ["model": "\(name)", "change": "\(change)"])
      reconcile(name, retryFailed: false)
      return makeStatus(name)
    }
  }

  /// Versions the experiments file names by number, per model; touched only on `queue`.
  private var experimentVersions: [String: Set<Int>] = [:]

  /// Versions named by number elsewhere (an experiments file's `mlp@7` arm) are loaded and kept
  /// loaded like labelled ones, so that versions can be arms without a label or pin. Replaces
  /// the previous set, loads what is new, unloads what no policy wants any more, and returns
  /// once each was tried: a version that is not in the store or fails to load is left out, and
  /// `resolve` then refuses it.
  public func keepLoaded(_ versions: [String: Set<Int>]) {
    queue.sync {
      let affected = Set(experimentVersions.keys).union(versions.keys)
      experimentVersions = versions.filter { !$0.value.isEmpty }
      // Only models the store is known to hold: a name that is not there gets no record.
      for name in affected.sorted() where records[name] != nil { reconcile(name, retryFailed: false) }
      publish()
    }
  }

  public func status(model: String?) -> [ModelStatus] {
    lock.withLock {
      statuses.values.filter { model == nil || $0.name == model }.sorted { $0.name < $1.name }
    }
  }

  /// The plugins and refused plugin files, read on the loader queue.
  public func pluginEntries() -> (loaded: [PluginSet.Entry], refused: [String: String]) {
    queue.sync { (plugins.entries.values.sorted { $0.plugin.path < $1.plugin.path }, plugins.refused) }
  }

  static func isLabel(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, first.properties.isAlphabetic, text.count <= 64 else { return false }
    return text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
  }

  // MARK: Reconciling (queue only)

  private func reconcileAll(retryFailed: Bool) {
    let changedKinds = plugins.refresh()
    if !changedKinds.isEmpty {
      // A kind gained a plugin or a newer one: retry its failures and re-create its
      // versions with the new code, through the same checks and warm-up.
      for name in records.keys {
        for (number, version) in records[name]!.versions where version.state == .failed || changedKinds.contains(version.kind) {
          records[name]!.versions[number]!.state = .unloaded
          records[name]!.versions[number]!.error = ""
          records[name]!.versions[number]!.reloadReason = version.state == .available ? "plugin \(version.kind) updated" : nil
        }
      }
    }
    let names: [String]
    do {
      names = try layout.modelNames()
    } catch {
      logger.error("cannot read the model store", metadata: ["store": "\(layout.root)", "error": "\(error)"])
      return
    }
    for gone in Set(records.keys).subtracting(names) {
      records[gone] = nil
      logger.info("model removed from the store", metadata: ["model": "\(gone)"])
    }
    for name in names { reconcile(name, retryFailed: retryFailed) }
    publish()
  }

  /// Brings one model's records in line with the disk and its policy; loads happen
  /// here, the table swap in `publish`.
  private func reconcile(_ name: String, retryFailed: Bool) {
    var record = records[name] ?? ModelRecord()
    let scan: StoreLayout.VersionScan
    do {
      scan = try layout.scanVersions(of: name)
    } catch {
      record.error = "\(error)"
      records[name] = record
      return
    }
    record.incomplete = Dictionary(scan.incomplete.map { ($0.number, "incomplete, ignored until complete: \($0)") },
                                   uniquingKeysWith: { first, _ in first })
    var onDisk: [Int: StoreLayout.Version] = [:]
    for version in scan.complete { onDisk[version.number] = version }
    for number in Set(record.versions.keys).subtracting(onDisk.keys) {
      record.versions[number] = nil  // deleted; the published table keeps it serving until the swap
      logger.info("version deleted", metadata: ["model": "\(name)", "version": "\(number)"])
    }
    for (number, version) in onDisk {
      let fingerprint = VersionFingerprint(version)
      if var existing = record.versions[number] {
        if existing.fingerprint != fingerprint {
          // Rewritten in place: load the new content, but keep `loaded` (what serves now)
          // until that content passes every check. A half-written file must not take a
          // serving version away.
          existing.fingerprint = fingerprint
          existing.state = .unloaded
          existing.error = ""
          existing.reloadReason = "files changed"
        } else if retryFailed && (existing.state == .failed || existing.replacementFailed) {
          existing.state = .unloaded
        }
        record.versions[number] = existing
      } else {
        record.versions[number] = VersionRecord(fingerprint: fingerprint)
      }
    }

    let policy = policies[name] ?? .latest
    var wanted = Set<Int>()
    var problems: [String] = []
    // The version that serves: the pin if it loads, else the highest version that loads.
    var serving: Int?
    if let pin = policy.pinned {
      if onDisk[pin] == nil {
        problems.append("pinned version \(pin) is not in the store; serving the latest good version instead")
      } else if ensureLoaded(name, pin, &record, onDisk) {
        serving = pin
      } else {
        problems.append("pinned version \(pin) failed to load; serving the latest good version instead")
      }
    }
    if serving == nil {
      for number in onDisk.keys.sorted(by: >) where ensureLoaded(name, number, &record, onDisk) {
        serving = number
        break
      }
    }
    if let serving { wanted.insert(serving) }
    for (label, number) in policy.labels.sorted(by: { $0.key < $1.key }) {
      if onDisk[number] != nil && ensureLoaded(name, number, &record, onDisk) {
        wanted.insert(number)
      } else {
        problems.append("label \(label) names version \(number), which is not available")
      }
    }
    for number in (experimentVersions[name] ?? []).sorted() where onDisk[number] != nil {
      if ensureLoaded(name, number, &record, onDisk) { wanted.insert(number) }
    }
    for (number, version) in record.versions where version.loaded != nil && !wanted.contains(number) {
      record.versions[number]!.state = version.state == .failed ? .failed : .unloaded
      record.versions[number]!.loaded = nil
      logger.info("version unloaded", metadata: ["model": "\(name)", "version": "\(number)"])
    }
    if serving == nil && !onDisk.isEmpty { problems.insert("no version loads", at: 0) }
    if onDisk.isEmpty { problems.insert("no complete version folder (<store>/\(name)/<N>/ with model.json and weights.safetensors)", at: 0) }
    record.serving = serving
    record.error = problems.joined(separator: "; ")
    records[name] = record
  }

  /// Loads `number` unless it is loaded, or failed with unchanged files. True when it can serve.
  private func ensureLoaded(_ name: String, _ number: Int, _ record: inout ModelRecord, _ onDisk: [Int: StoreLayout.Version]) -> Bool {
    guard var version = record.versions[number], let location = onDisk[number] else { return false }
    switch version.state {
    case .available: return true
    case .failed: return false
    case .loading, .unloaded: break
    }
    version.state = .loading
    record.versions[number] = version
    records[name] = record
    publishStatus(name)
    do {
      let loaded = try VersionLoader(plugins: plugins).load(location)
      version.state = .available
      version.error = ""
      version.replacementFailed = false
      version.loaded = loaded
      version.kind = loaded.model.kind
      logger.info("version loaded", metadata: [
        "model": "\(name)", "version": "\(number)", "kind": "\(loaded.model.kind)",
        "reason": "\(version.reloadReason ?? "new")",
      ])
    } catch where version.loaded != nil {
      // Its files changed (or its plugin did) and the new content failed: the instance loaded
      // from the previous content keeps serving. The next poll retries once the files change
      // again (e.g. a copy still under way completes).
      version.state = .available
      version.replacementFailed = true
      version.error = "reloading it (\(version.reloadReason ?? "files changed")) failed, "
        + "so the previously loaded content keeps serving: \(error)"
      logger.error("changed version failed to load; its previous content keeps serving",
                   metadata: ["model": "\(name)", "version": "\(number)", "error": "\(error)"])
    } catch {
      version.state = .failed
      version.error = "\(error)"
      version.loaded = nil
      logger.error("version failed to load; what served before keeps serving",
                   metadata: ["model": "\(name)", "version": "\(number)", "error": "\(error)"])
    }
    version.reloadReason = nil
    record.versions[number] = version
    onLoad?(LoadOutcome(model: name, version: number, succeeded: version.state == .available && !version.replacementFailed))
    return version.state == .available
  }

  private func requireLoadable(_ name: String, _ version: Int, for purpose: String) throws {
    guard version > 0 else { throw RegistryError(.invalidArgument, "version must be a positive integer, got \(version)") }
    reconcile(name, retryFailed: false)
    var record = records[name] ?? ModelRecord()
    guard let scan = try? layout.scanVersions(of: name), let location = scan.complete.first(where: { $0.number == version })
    else {
      throw RegistryError(.failedPrecondition, "cannot \(purpose) \(name)@\(version): the store has no complete version \(version)")
    }
    if record.versions[version]?.state == .failed { record.versions[version]!.state = .unloaded }
    let ok = ensureLoaded(name, version, &record, [version: location])
    records[name] = record
    guard ok else {
      throw RegistryError(.failedPrecondition,
        "cannot \(purpose) \(name)@\(version): it failed to load: \(record.versions[version]?.error ?? "unknown error")")
    }
  }

  /// Swaps in a new serving table and status view built from the records.
  private func publish() {
    var models: [String: ServingTable.Model] = [:]
    for (name, record) in records {
      var byVersion: [Int: ServingModel] = [:]
      for (number, version) in record.versions { if let loaded = version.loaded { byVersion[number] = loaded.model } }
      let policy = policies[name] ?? .latest
      let labels = policy.labels.filter { byVersion[$0.value] != nil }
      models[name] = ServingTable.Model(serving: record.serving.flatMap { byVersion[$0] }, byVersion: byVersion, labels: labels)
    }
    let newStatuses = Dictionary(uniqueKeysWithValues: records.keys.map { ($0, makeStatus($0)) })
    lock.withLock {
      table = ServingTable(models: models)
      statuses = newStatuses
    }
    onPublish?(self)
  }

  private func publishStatus(_ name: String) {
    let status = makeStatus(name)
    lock.withLock { statuses[name] = status }
  }

  private func makeStatus(_ name: String) -> ModelStatus {
    let record = records[name] ?? ModelRecord()
    let policy = policies[name] ?? .latest
    var versions = record.versions.map { number, version in
      ModelStatus.Version(
        version: number, state: version.state, error: version.error,
        labels: policy.labels.filter { $0.value == number }.keys.sorted(), kind: version.kind,
        sha256: version.loaded?.sha256 ?? "", description: version.loaded?.description ?? "")
    }
    versions += record.incomplete.map { ModelStatus.Version(version: $0.key, state: .unloaded, error: $0.value) }
    return ModelStatus(name: name, servingVersion: record.serving, policy: policy,
                       versions: versions.sorted { $0.version < $1.version }, error: record.error)
  }
}

/// What the loader knows of one model.
struct ModelRecord {
  var versions: [Int: VersionRecord] = [:]
  var incomplete: [Int: String] = [:]
  var serving: Int?
  var error = ""
}

struct VersionRecord {
  var fingerprint: VersionFingerprint?
  var state: ModelStatus.State = .unloaded
  var error = ""
  var kind = ""
  /// What serves for this version. Kept while new content for it loads, and after that content
  /// fails (`replacementFailed`), so rewriting files in place never takes a version away.
  var loaded: LoadedVersion?
  /// The files changed and their new content failed to load; `loaded` is the previous content.
  var replacementFailed = false
  var reloadReason: String?
}

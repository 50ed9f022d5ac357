import Foundation
import ModelStore
import Prometheus
import RecSysStatus

/// The sidecar's Prometheus series, rendered by `exposition()` for GET /metrics.
///
/// Per request: one in-flight gauge up and down (atomic), one short lock to find the
/// request's counter and histogram (cached per model, version and code; never held while
/// scoring), one counter increment (atomic) and one histogram record (its own short lock).
/// No allocation once a series exists.
public final class SidecarMetrics: @unchecked Sendable {
  public let registry = PrometheusCollectorRegistry()

  private let inFlight: Gauge
  private let pluginsLoaded: Gauge
  private let pluginsRefused: Gauge
  /// Exposure-log lines lost because its queue was full (the request path never waits for it).
  public let exposureLogDropped: Counter
  /// Response slates and feedback events the shared experiment state had to drop (buffer full).
  public let experimentStateDropped: Counter

  private let lock = NSLock()
  private var requestCounters: [RequestKey: Counter] = [:]  // under `lock`
  private var latencies: [ModelKey: DurationHistogram] = [:]  // under `lock`
  private var servedModels: Set<String> = []  // touched only by `observe`, serialised by its caller

  /// Request latency buckets: from the transport floor (~100 µs) to a whole-catalog scan.
  static let latencyBuckets: [Duration] = [
    .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2_500),
    .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
    .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2_500), .seconds(5),
  ]

  public init() {
    inFlight = registry.makeGauge(descriptor: Self.name("requests_in_flight", "Recommend calls being served now."))
    pluginsLoaded = registry.makeGauge(
      descriptor: Self.name("plugins", "Plugin files by state (loaded: a model kind is available)."),
      labels: [("state", "loaded")])
    pluginsRefused = registry.makeGauge(
      descriptor: Self.name("plugins", "Plugin files by state (loaded: a model kind is available)."),
      labels: [("state", "refused")])
    exposureLogDropped = registry.makeCounter(descriptor: Self.name(
      "exposure_log_dropped_total", "Exposure records dropped because the log could not keep up."))
    experimentStateDropped = registry.makeCounter(descriptor: Self.name(
      "experiment_state_dropped_total",
      "Response slates and feedback events dropped because the experiment state's buffer was full."))
    registry.makeGauge(
      descriptor: Self.name("build_info", "Always 1; the labels say what is running."),
      labels: [("version", BuildInfo.version), ("commit", BuildInfo.commit), ("swift", BuildInfo.swiftVersion)]
    ).set(to: 1)
  }

  private static func name(_ metric: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(namespace: "recsys", metricName: metric, unitName: "", helpText: help)
  }

  // MARK: Requests (any thread)

  private struct ModelKey: Hashable {
    var model: String
    var version: Int
  }

  private struct RequestKey: Hashable {
    var model: ModelKey
    var arm: String
    var code: Int32
  }

  public func requestStarted() { inFlight.increment() }

  /// One finished Recommend call. `model` is nil when it failed before a model was chosen:
  /// its series has model="" and version="" (never the name the caller sent, which would let
  /// callers mint series).
  /// `arm`: "experiment/arm" when an experiment routed the call, else "".
  public func requestFinished(model: String?, version: Int, arm: String = "", code: Int32, elapsed: Duration) {
    inFlight.decrement()
    let key = ModelKey(model: model ?? "", version: model == nil ? 0 : version)
    let (counter, latency) = lock.withLock { () -> (Counter, DurationHistogram?) in
      let requestKey = RequestKey(model: key, arm: arm, code: code)
      let counter = requestCounters[requestKey] ?? {
        let made = registry.makeCounter(
          descriptor: Self.name("requests_total", "Recommend calls by model, version, A/B arm (\"experiment/arm\"; \"\" when no experiment routed it) and gRPC code."),
          labels: [("model", key.model), ("version", Self.versionLabel(key)), ("arm", arm), ("code", Self.codeName(code))])
        requestCounters[requestKey] = made
        return made
      }()
      guard model != nil else { return (counter, nil) }
      let latency = latencies[key] ?? {
        let made = registry.makeDurationHistogram(
          descriptor: Self.name("request_duration_seconds", "Recommend latency inside the sidecar, by model and version."),
          labels: [("model", key.model), ("version", Self.versionLabel(key))], buckets: Self.latencyBuckets)
        latencies[key] = made
        return made
      }()
      return (counter, latency)
    }
    counter.increment()
    latency?.record(elapsed)
  }

  private static func versionLabel(_ key: ModelKey) -> String { key.model.isEmpty ? "" : String(key.version) }

  static func codeName(_ code: Int32) -> String { StatusCode.name(of: code) }

  // MARK: Models (the registry's loader queue, or one serial queue)

  /// One attempt to load a version of `model` ended (from ModelRegistry's load observer).
  public func modelLoadEnded(model: String, succeeded: Bool) {
    registry.makeCounter(
      descriptor: Self.name("model_loads_total", "Attempts to load a model version, successful or not."),
      labels: [("model", model)]
    ).increment()
    let failures = registry.makeCounter(
      descriptor: Self.name("model_load_failures_total", "Model version loads that failed (the previous version kept serving)."),
      labels: [("model", model)])
    if !succeeded { failures.increment() }
  }

  /// Served version per model and plugin counts, read from the registry after it published.
  /// Calls must not overlap (one serial queue); not on the registry's own queue.
  /// `servingVersions`: each model in the store and the version that serves it (0: none).
  public func observe(servingVersions: [String: Int], pluginsLoaded loaded: Int, pluginsRefused refused: Int) {
    // One family; a model that left the store reads 0.
    let descriptor = Self.name("model_serving_version", "The version that serves each model; 0 while none does.")
    let served = { (model: String) in self.registry.makeGauge(descriptor: descriptor, labels: [("model", model)]) }
    var seen = Set<String>()
    for (model, version) in servingVersions {
      served(model).set(to: Double(version))
      seen.insert(model)
    }
    for gone in servedModels.subtracting(seen) { served(gone).set(to: 0) }
    servedModels.formUnion(seen)
    pluginsLoaded.set(to: Double(loaded))
    pluginsRefused.set(to: Double(refused))
  }

  /// The Prometheus text format (version 0.0.4) of every series.
  public func exposition() -> [UInt8] { registry.emitToBuffer() }
}

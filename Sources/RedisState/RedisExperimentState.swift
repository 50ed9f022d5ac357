import Experiments
import Foundation
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// The experiment state of a fleet, in Redis (README "Fleet").
///
/// Request path (`served`): a few dictionary updates under one short lock: the response's
/// impression is added to a per-arm delta (never dropped: deltas only grow a number) and its slate
/// is queued (bounded: when `bufferCapacity` slates wait, the newest is dropped and counted).
/// Nothing on it touches the network.
///
/// One worker thread writes what is buffered every `flushInterval` as one pipeline: the impression
/// deltas in one script that applies a batch exactly once, then each slate as a hash with the
/// feedback TTL. A batch that fails (Redis slow, down, restarting) is kept and resent unchanged
/// until it succeeds, while new work accumulates behind it. The worker also rereads the fleet's
/// counters every `countsRefreshInterval` (or after `refreshAfterEvents` feedback events here) for
/// Thompson sampling.
///
/// Feedback and the admin report wait on Redis, over a small pool of connections of their own.
public final class RedisExperimentState: ExperimentState, @unchecked Sendable {
  public let settings: RedisStateSettings
  private let logger: Logger
  private let onDrop: (@Sendable () -> Void)?
  /// Marks this process's impression batches apart from other replicas'.
  private let replicaID = String(UInt64.random(in: 0...UInt64.max), radix: 16)
  private var ttlMilliseconds: String { String(settings.feedbackTTLSeconds * 1_000) }
  /// A slate's TTL: its experiment's feedback_ttl, else the sidecar's.
  private func ttlMilliseconds(_ slate: Slate) -> String { String((slate.ttlSeconds ?? settings.feedbackTTLSeconds) * 1_000) }

  private struct Run: Hashable {
    let key: String
    let salt: String
  }

  private struct Delta: Hashable {
    let countsKey: String
    let field: String
  }

  /// What one flush writes; kept whole and resent after a failure.
  private struct Batch {
    var sequence: UInt64
    var impressions: [Delta: Int]
    var slates: [Slate]
    var feedback: [(event: FeedbackEvent, slate: Slate)]
  }

  private let condition = NSCondition()
  // Under `condition`:
  private var impressions: [Delta: Int] = [:]
  private var slates: [Slate] = []
  private var feedback: [(event: FeedbackEvent, slate: Slate)] = []
  private var inFlight: Batch?
  private var sequence: UInt64 = 0
  private var runs: Set<Run> = []
  private var cache: [Run: [String: ArmCounters]] = [:]
  private var eventsSinceRefresh = 0
  private var stopping = false
  private var finished = false
  private var health = ExperimentStateStatus()

  // The worker's own connection; the feedback path's pool of idle ones, under `poolLock`.
  private var workerConnection: RedisConnection?
  private var workerScripts: [String: String] = [:]
  private let poolLock = NSLock()
  private var idle: [PooledConnection] = []

  /// A connection with the SHAs of the scripts it has loaded.
  private final class PooledConnection {
    let connection: RedisConnection
    var scripts: [String: String] = [:]
    init(_ connection: RedisConnection) { self.connection = connection }
  }

  /// Idle feedback connections kept; concurrent Feedback calls beyond it open (and close) their own.
  static let idleConnections = 8

  static let slatesPerFlush = 2_000
  static let workerNice: Int32 = 10

  public init(settings: RedisStateSettings, logger: Logger, onDrop: (@Sendable () -> Void)? = nil) {
    self.settings = settings
    self.logger = logger
    self.onDrop = onDrop
    health.kind = "redis"
    health.address = settings.address
    health.reachable = false
    let thread = Thread { [self] in
      // Below the request threads, so that its bursts (formatting a flush, once per interval) wait
      // for serving rather than the reverse; not SCHED_IDLE, which a saturated machine would
      // starve until the buffer drops slates. Per thread on Linux (setpriority(2), who 0).
      _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.workerNice)
      runWorker()
    }
    thread.name = "recsys.experiment-state"
    thread.start()
  }

  /// Tries Redis once now (for the start-up log); never fails the start: the state buffers until Redis answers.
  public func probe() -> String? {
    do {
      _ = try withFeedbackConnection { try $0.command(["PING"]) }
      return nil
    } catch {
      return "\(error)"
    }
  }

  // MARK: Keys

  private func countsKey(_ key: String, _ salt: String) -> String { "\(settings.keyPrefix)counts:\(key):\(salt)" }
  private func slateKey(_ requestID: String) -> String { "\(settings.keyPrefix)slate:\(requestID)" }
  private func feedbackKey(_ requestID: String) -> String { "\(settings.keyPrefix)feedback:\(requestID)" }

  // MARK: Request path

  public func served(_ slate: Slate) {
    var dropped = false
    condition.lock()
    if slate.counted {
      impressions[Delta(countsKey: countsKey(slate.experiment, slate.salt), field: "\(slate.arm):impressions"), default: 0] += 1
    }
    if slates.count + (inFlight?.slates.count ?? 0) < settings.bufferCapacity {
      slates.append(slate)
    } else {
      health.dropped += 1
      dropped = true
    }
    condition.unlock()
    if dropped { onDrop?() }
  }

  // MARK: Feedback path

  public func slate(requestID: String) throws -> Slate? {
    // The serving replica writes the slate within a flush interval or two; feedback that comes
    // faster than that (a test, a bot) waits for it rather than failing.
    let patience = max(settings.flushInterval * 8, .milliseconds(250))
    let deadline = ContinuousClock.now + patience
    while true {
      let reply: RedisReply
      do {
        reply = try withFeedbackConnection { try $0.command(["HGETALL", slateKey(requestID)]) }
      } catch {
        throw ExperimentStateUnavailable(
          "cannot reach the shared experiment state (\(settings.address)) to find request \"\(requestID)\", which "
            + "another replica served: \(error); retry later")
      }
      if let slate = Self.slate(from: reply, requestID: requestID) { return slate }
      if ContinuousClock.now >= deadline { return nil }
      Thread.sleep(forTimeInterval: 0.01)
    }
  }

  public func recordFeedback(_ event: FeedbackEvent, on slate: Slate) throws -> Bool {
    let arguments = feedbackArguments(event, slate)
    do {
      let reply = try withPooledConnection { pooled in
        try self.evaluate("feedback", RedisScripts.feedback, keys: arguments.keys, arguments: arguments.values,
                          on: pooled.connection, scripts: &pooled.scripts)
      }
      guard case .integer(let new) = reply else { throw RedisError("unexpected reply to the feedback script: \(reply)") }
      condition.lock()
      eventsSinceRefresh += 1
      if eventsSinceRefresh >= settings.refreshAfterEvents { condition.signal() }
      condition.unlock()
      return new == 1
    } catch {
      // Redis is unreachable: the worker records it when it comes back (the script makes a resend
      // harmless). Only a full buffer makes the event unrecordable.
      condition.lock()
      let room = feedback.count + (inFlight?.feedback.count ?? 0) < settings.bufferCapacity
      if room { feedback.append((event, slate)) } else { health.dropped += 1 }
      condition.unlock()
      if !room {
        onDrop?()
        throw ExperimentStateUnavailable(
          "the shared experiment state (\(settings.address)) is unreachable (\(error)) and its buffer is full; "
            + "retry later")
      }
      return true
    }
  }

  private func feedbackArguments(_ event: FeedbackEvent, _ slate: Slate) -> (keys: [String], values: [String]) {
    let (flag, counter): (String, String) =
      switch event.kind {
      case .click: ("clicked", "clicks")
      case .addToCart: ("added_to_cart", "add_to_carts")
      case .purchase: ("purchased", "purchases")
      }
    let counts = slate.counted
    let revenue = counts && event.kind == .purchase && event.value.isFinite && event.value > 0
    let micros = revenue ? Int64((event.value * 1_000_000).rounded()) : 0
    return (
      [feedbackKey(event.requestID), countsKey(slate.experiment, slate.salt)],
      ["\(event.itemID):\(event.kind.rawValue)", flag, counts ? "\(slate.arm):\(counter)" : "",
       revenue ? "\(slate.arm):revenue_micros" : "", String(micros), ttlMilliseconds(slate)]
    )
  }

  // MARK: Counts

  public func counts(key: String, salt: String, fresh: Bool) -> [String: ArmCounters]? {
    let run = Run(key: key, salt: salt)
    condition.lock()
    let isNew = runs.insert(run).inserted
    let cached = cache[run]
    if isNew { condition.signal() }
    condition.unlock()
    guard fresh else { return cached }
    do {
      let reply = try withFeedbackConnection { try $0.command(["HGETALL", countsKey(key, salt)]) }
      let counts = Self.counters(from: reply)
      condition.lock()
      cache[run] = counts
      condition.unlock()
      return counts
    } catch {
      return cached
    }
  }

  public var status: ExperimentStateStatus {
    condition.lock()
    defer { condition.unlock() }
    var status = health
    status.pendingSlates = slates.count + (inFlight?.slates.count ?? 0)
    status.pendingImpressions = impressions.values.reduce(0, +) + (inFlight?.impressions.values.reduce(0, +) ?? 0)
    status.pendingFeedback = feedback.count + (inFlight?.feedback.count ?? 0)
    return status
  }

  /// Writes what is buffered (trying until `deadline`), then stops the worker. For shutdown.
  public func close(deadline: Duration = .seconds(2)) {
    condition.lock()
    stopping = true
    condition.broadcast()
    let until = Date(timeIntervalSinceNow: Double(deadline.components.seconds) + Double(deadline.components.attoseconds) / 1e18)
    while !finished && Date() < until { _ = condition.wait(until: until) }
    condition.unlock()
  }

  // MARK: Worker

  private func runWorker() {
    var lastRefresh = ContinuousClock.now - settings.countsRefreshInterval
    var retryAt = ContinuousClock.now
    let interval = Double(settings.flushInterval.components.attoseconds) / 1e18
      + Double(settings.flushInterval.components.seconds)
    while true {
      condition.lock()
      if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: interval)) }
      let stop = stopping
      if inFlight == nil && (!impressions.isEmpty || !slates.isEmpty || !feedback.isEmpty) {
        sequence += 1
        let take = min(slates.count, Self.slatesPerFlush)
        inFlight = Batch(sequence: sequence, impressions: impressions, slates: Array(slates.prefix(take)),
                         feedback: feedback)
        impressions = [:]
        slates.removeFirst(take)
        feedback = []
      }
      let batch = inFlight
      let refresh = !runs.isEmpty
        && (ContinuousClock.now - lastRefresh >= settings.countsRefreshInterval
          || eventsSinceRefresh >= settings.refreshAfterEvents)
      let runsToRead = Array(runs)
      condition.unlock()

      let now = ContinuousClock.now
      if (batch != nil || refresh) && (now >= retryAt || stop) {
        do {
          let connection = try workerConnectionReady()
          if let batch {
            try flush(batch, on: connection)
            condition.lock()
            inFlight = nil
            health.flushes += 1
            condition.unlock()
          }
          if refresh {
            let replies = try connection.pipeline(runsToRead.map { ["HGETALL", countsKey($0.key, $0.salt)] })
            condition.lock()
            for (run, reply) in zip(runsToRead, replies) { cache[run] = Self.counters(from: reply) }
            eventsSinceRefresh = 0
            condition.unlock()
            lastRefresh = ContinuousClock.now
          }
          markReachable(nil)
        } catch {
          workerConnection = nil
          retryAt = ContinuousClock.now + .milliseconds(200)
          markReachable("\(error)")
        }
      }
      condition.lock()
      let done = stop && (inFlight == nil && impressions.isEmpty && slates.isEmpty && feedback.isEmpty || health.reachable == false)
      if done {
        finished = true
        condition.broadcast()
      }
      condition.unlock()
      if done { return }
    }
  }

  private func markReachable(_ failure: String?) {
    condition.lock()
    let was = health.reachable
    health.reachable = failure == nil
    if let failure { health.lastError = failure }
    condition.unlock()
    if was && failure != nil {
      logger.warning("shared experiment state unreachable; buffering", metadata: [
        "address": "\(settings.address)", "error": "\(failure!)",
      ])
    } else if !was && failure == nil {
      logger.info("shared experiment state reachable", metadata: ["address": "\(settings.address)"])
    }
  }

  private func workerConnectionReady() throws -> RedisConnection {
    if let workerConnection, !workerConnection.broken { return workerConnection }
    let connection = try connect()
    workerConnection = connection
    workerScripts = [:]
    return connection
  }

  private func flush(_ batch: Batch, on connection: RedisConnection) throws {
    var commands: [[String]] = []
    if !batch.impressions.isEmpty {
      let sha = try scriptSHA("impressions", RedisScripts.impressions, on: connection, scripts: &workerScripts)
      var command = ["EVALSHA", sha, "1", "\(settings.keyPrefix)batch:\(replicaID):\(batch.sequence)", ttlMilliseconds]
      for (delta, count) in batch.impressions { command += [delta.countsKey, delta.field, String(count)] }
      commands.append(command)
    }
    for slate in batch.slates {
      let key = slateKey(slate.requestID)
      commands.append([
        "HSET", key, "experiment", slate.experiment, "salt", slate.salt, "arm", slate.arm,
        "items", slate.itemIDs.map(String.init).joined(separator: ","), "forced", slate.forced ? "1" : "0",
        "counted", slate.counted ? "1" : "0", "ttl", slate.ttlSeconds.map(String.init) ?? "",
      ])
      commands.append(["PEXPIRE", key, ttlMilliseconds(slate)])
    }
    if !batch.feedback.isEmpty {
      let sha = try scriptSHA("feedback", RedisScripts.feedback, on: connection, scripts: &workerScripts)
      for (event, slate) in batch.feedback {
        let arguments = feedbackArguments(event, slate)
        commands.append(["EVALSHA", sha, "2"] + arguments.keys + arguments.values)
      }
    }
    let replies = try connection.pipeline(commands)
    if let failure = replies.first(where: { if case .error = $0 { return true } else { return false } }) {
      // NOSCRIPT (Redis restarted and forgot the scripts): load them again and resend the batch,
      // which the scripts make harmless.
      workerScripts = [:]
      throw RedisError("Redis refused part of a flush: \(failure)")
    }
  }

  // MARK: Connections and scripts

  private func connect() throws -> RedisConnection {
    try RedisConnection(
      host: settings.host, port: settings.port, database: settings.database, password: settings.password,
      timeout: settings.timeout, tls: settings.tls)
  }

  /// Runs `body` on an idle pooled connection (or a new one), returned to the pool unless it broke,
  /// so concurrent Feedback calls do not queue behind each other's round trips.
  private func withFeedbackConnection<Result>(_ body: (RedisConnection) throws -> Result) throws -> Result {
    try withPooledConnection { try body($0.connection) }
  }

  private func withPooledConnection<Result>(_ body: (PooledConnection) throws -> Result) throws -> Result {
    let pooled = try poolLock.withLock { idle.popLast() } ?? PooledConnection(connect())
    defer {
      if !pooled.connection.broken {
        poolLock.withLock { if idle.count < Self.idleConnections { idle.append(pooled) } }
      }
    }
    return try body(pooled)
  }

  private func scriptSHA(_ name: String, _ source: String, on connection: RedisConnection,
                         scripts: inout [String: String]) throws -> String {
    if let sha = scripts[name] { return sha }
    let reply = try connection.command(["SCRIPT", "LOAD", source])
    guard let sha = reply.text else { throw RedisError("SCRIPT LOAD failed: \(reply)") }
    scripts[name] = sha
    return sha
  }

  /// EVALSHA, loading the script again when Redis forgot it (NOSCRIPT after a restart).
  private func evaluate(_ name: String, _ source: String, keys: [String], arguments: [String],
                        on connection: RedisConnection, scripts: inout [String: String]) throws -> RedisReply {
    for _ in 0..<2 {
      let sha = try scriptSHA(name, source, on: connection, scripts: &scripts)
      let reply = try connection.command(["EVALSHA", sha, String(keys.count)] + keys + arguments)
      if case .error(let message) = reply {
        if message.hasPrefix("NOSCRIPT") {
          scripts[name] = nil
          continue
        }
        throw RedisError("Redis refused the \(name) script: \(message)")
      }
      return reply
    }
    throw RedisError("Redis keeps forgetting the \(name) script")
  }

  // MARK: Replies

  /// HGETALL of a counters hash: "arm:field" -> value.
  public static func counters(from reply: RedisReply) -> [String: ArmCounters] {
    var counts: [String: ArmCounters] = [:]
    for (field, value) in pairs(reply) {
      guard let colon = field.lastIndex(of: ":"), let number = Int64(value) else { continue }
      let arm = String(field[..<colon])
      switch field[field.index(after: colon)...] {
      case "impressions": counts[arm, default: ArmCounters()].impressions = Int(number)
      case "clicks": counts[arm, default: ArmCounters()].clicks = Int(number)
      case "add_to_carts": counts[arm, default: ArmCounters()].addToCarts = Int(number)
      case "purchases": counts[arm, default: ArmCounters()].purchases = Int(number)
      case "revenue_micros": counts[arm, default: ArmCounters()].revenue = Double(number) / 1_000_000
      default: break
      }
    }
    return counts
  }

  public static func slate(from reply: RedisReply, requestID: String) -> Slate? {
    let fields = Dictionary(pairs(reply), uniquingKeysWith: { $1 })
    guard let items = fields["items"] else { return nil }
    return Slate(
      requestID: requestID, experiment: fields["experiment"] ?? "", salt: fields["salt"] ?? "",
      arm: fields["arm"] ?? "", itemIDs: items.split(separator: ",").compactMap { Int64($0) },
      forced: fields["forced"] == "1", counted: fields["counted"] == "1", ttlSeconds: fields["ttl"].flatMap { Int($0) })
  }

  private static func pairs(_ reply: RedisReply) -> [(String, String)] {
    guard case .array(let elements) = reply else { return [] }
    var pairs: [(String, String)] = []
    var index = 0
    while index + 1 < elements.count {
      if let field = elements[index].text, let value = elements[index + 1].text { pairs.append((field, value)) }
      index += 2
    }
    return pairs
  }
}

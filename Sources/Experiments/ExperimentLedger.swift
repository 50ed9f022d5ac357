import Foundation

/// Exposures of recent responses and per-arm outcome counters. Lives as long as the process and
/// survives config reloads: counters are keyed by experiment key + salt + arm name, so changing
/// the salt restarts an experiment's results and renaming an arm starts that arm afresh.
///
/// With a shared `state` (Redis), every served response is also handed to it (never waited on),
/// feedback is deduplicated and counted there, feedback for a response this process never saw
/// is joined through it, and the counters read are the state's (fleet-wide) ones.
///
/// One lock guards everything; it is held for a few field updates and never while calling out.
public final class ExperimentLedger: @unchecked Sendable {
  private let lock = NSLock()
  /// nil: this process is the whole state (in-process, optionally snapshotted to a file).
  public let state: ExperimentState?
  private var window: ExposureWindow
  private var tallies: [TallyKey: ExperimentTally] = [:]
  private var unjoined = 0

  /// `windowCapacity`: how many of the latest responses feedback can still join (at least 1).
  public let windowCapacity: Int

  public init(windowCapacity: Int = 100_000, state: ExperimentState? = nil) {
    self.state = state
    self.windowCapacity = max(windowCapacity, 1)
    window = ExposureWindow(capacity: self.windowCapacity)
  }

  public struct FeedbackResult: Sendable, Equatable {
    /// "" when the response was not in an experiment.
    public let experiment: String
    public let arm: String
    /// The same (request, item, kind) was recorded before; nothing was counted.
    public let duplicate: Bool

    public init(experiment: String, arm: String, duplicate: Bool) {
      self.experiment = experiment
      self.arm = arm
      self.duplicate = duplicate
    }
  }

  /// Request path (once per served response, after scoring). Remembers the response for the
  /// feedback join, the oldest forgotten first, and, for a non-forced assignment, counts an
  /// impression for its arm. The ids are copied before the lock is taken, and the response the
  /// window pushes out is freed after it is released.
  public func recordExposure(requestID: String, assignment: Assignment?, itemIDs: UnsafeBufferPointer<Int64>) {
    let slot = assignment?.slot.flatMap { $0.tally.ledgerID == ObjectIdentifier(self) ? $0 : nil }
    let exposure = ExposureWindow.Exposure(
      requestID: requestID, experiment: assignment?.experimentKey ?? "", arm: assignment?.armName ?? "",
      slot: slot, itemIDs: Array(itemIDs))
    lock.lock()
    let evicted = window.insert(exposure)
    if let slot { slot.tally.arms[slot.arm].impressions += 1 }
    let ttl = slot?.tally.feedbackTTLSeconds
    lock.unlock()
    withExtendedLifetime(evicted) {}
    if let state {
      state.served(Slate(
        requestID: requestID, experiment: exposure.experiment, salt: slot?.tally.salt ?? "", arm: exposure.arm,
        itemIDs: exposure.itemIDs, forced: assignment?.forced ?? false, counted: slot != nil, ttlSeconds: ttl))
    }
  }

  /// Joins one feedback event to the response it is about. A (request, item, kind) seen before
  /// returns `duplicate` and counts nothing. A response counts at most one click, add-to-cart and
  /// purchase (so clicks <= impressions, as the Thompson posteriors need); revenue sums the value
  /// of every non-duplicate purchase. `value` is ignored for clicks and add-to-carts, and a value
  /// that is not finite and >= 0 adds no revenue (the feedback service refuses those first).
  public func recordFeedback(requestID: String, itemID: Int64, kind: FeedbackKind, value: Double) throws
    -> FeedbackResult
  {
    if let state {
      return try recordSharedFeedback(
        FeedbackEvent(requestID: requestID, itemID: itemID, kind: kind, value: value), state: state)
    }
    enum Outcome {
      case joined(FeedbackResult)
      case unknownRequest
      case itemNotInResponse(itemCount: Int)
    }
    lock.lock()
    let outcome: Outcome
    if let position = window.position(of: requestID) {
      outcome = Self.join(&window[position], itemID: itemID, kind: kind, value: value)
        .map(Outcome.joined) ?? .itemNotInResponse(itemCount: window[position].itemIDs.count)
    } else {
      outcome = .unknownRequest
    }
    if case .unknownRequest = outcome { unjoined += 1 }
    lock.unlock()

    switch outcome {
    case .joined(let result):
      return result
    case .unknownRequest:
      throw FeedbackError.unknownRequest(
        "feedback for request \"\(requestID)\": no such response among the latest \(windowCapacity) this "
          + "instance served (it was served elsewhere, never, or so long ago that it left the window; "
          + "send feedback sooner or raise feedback_window)")
    case .itemNotInResponse(let itemCount):
      throw FeedbackError.itemNotInResponse(
        "feedback for request \"\(requestID)\": item \(itemID) was not among the \(itemCount) items of its "
          + "response; send feedback only for items that were returned")
    }
  }

  /// With a shared state: the slate from this process's window, else from the state (which may
  /// wait); the item checked against it; then counted once fleet-wide by the state. The window's
  /// own `seen` list answers repeats sent to this process without asking the state.
  private func recordSharedFeedback(_ event: FeedbackEvent, state: ExperimentState) throws -> FeedbackResult {
    let marker = ExposureWindow.SeenFeedback(itemID: event.itemID, kind: event.kind)
    lock.lock()
    var local: Slate?
    var seenHere = false
    if let position = window.position(of: event.requestID) {
      let exposure = window[position]
      local = Slate(
        requestID: exposure.requestID, experiment: exposure.experiment, salt: exposure.slot?.tally.salt ?? "",
        arm: exposure.arm, itemIDs: exposure.itemIDs, forced: exposure.slot == nil && !exposure.experiment.isEmpty,
        counted: exposure.slot != nil, ttlSeconds: exposure.slot?.tally.feedbackTTLSeconds)
      seenHere = exposure.seen.contains(marker)
    }
    lock.unlock()

    guard let slate = try local ?? state.slate(requestID: event.requestID) else {
      lock.withLock { unjoined += 1 }
      throw FeedbackError.unknownRequest(
        "feedback for request \"\(event.requestID)\": no replica served it within the feedback TTL (it was never "
          + "served, its feedback TTL passed, or the serving replica could not publish it); send feedback sooner")
    }
    guard slate.itemIDs.contains(event.itemID) else {
      throw FeedbackError.itemNotInResponse(
        "feedback for request \"\(event.requestID)\": item \(event.itemID) was not among the \(slate.itemIDs.count) "
          + "items of its response; send feedback only for items that were returned")
    }
    if seenHere { return FeedbackResult(experiment: slate.experiment, arm: slate.arm, duplicate: true) }
    let new = try state.recordFeedback(event, on: slate)
    if local != nil {
      lock.withLock {
        if let position = window.position(of: event.requestID), !window[position].seen.contains(marker) {
          window[position].seen.append(marker)
        }
      }
    }
    return FeedbackResult(experiment: slate.experiment, arm: slate.arm, duplicate: !new)
  }

  /// Under the lock. nil when the item was not in the response.
  private static func join(
    _ exposure: inout ExposureWindow.Exposure, itemID: Int64, kind: FeedbackKind, value: Double
  ) -> FeedbackResult? {
    guard exposure.itemIDs.contains(itemID) else { return nil }
    let event = ExposureWindow.SeenFeedback(itemID: itemID, kind: kind)
    let duplicate = exposure.seen.contains(event)
    if !duplicate {
      exposure.seen.append(event)
      if let slot = exposure.slot { count(kind, value: value, in: &exposure, counters: slot) }
    }
    return FeedbackResult(experiment: exposure.experiment, arm: exposure.arm, duplicate: duplicate)
  }

  private static func count(
    _ kind: FeedbackKind, value: Double, in exposure: inout ExposureWindow.Exposure, counters slot: TallySlot
  ) {
    let tally = slot.tally
    switch kind {
    case .click:
      if !exposure.clicked { tally.arms[slot.arm].clicks += 1 }
      exposure.clicked = true
    case .addToCart:
      if !exposure.addedToCart { tally.arms[slot.arm].addToCarts += 1 }
      exposure.addedToCart = true
    case .purchase:
      if !exposure.purchased { tally.arms[slot.arm].purchases += 1 }
      exposure.purchased = true
      if value.isFinite && value > 0 { tally.arms[slot.arm].revenue += value }
    }
  }

  /// Feedback that found no response to join (unknown request id, or one the window forgot).
  public var unjoinedFeedback: Int {
    lock.lock()
    defer { lock.unlock() }
    return unjoined
  }

  /// Off the request path: adds one comparison of the shadow model's list with the served one.
  public func recordShadow(
    experimentKey: String, salt: String, served: UnsafeBufferPointer<Int64>, shadow: UnsafeBufferPointer<Int64>
  ) {
    let overlap = RankAgreement.overlapAtK(served: served, shadow: shadow)
    let correlation = RankAgreement.kendallTauB(served: served, shadow: shadow)
    updateShadow(experimentKey: experimentKey, salt: salt) { counters in
      counters.compared += 1
      counters.overlapSum += overlap
      if let correlation {
        counters.rankCorrelationSum += correlation
        counters.rankCorrelationCount += 1
      }
    }
  }

  /// A shadow scoring skipped (e.g. the shadow queue was full).
  public func recordShadowDropped(experimentKey: String, salt: String) {
    updateShadow(experimentKey: experimentKey, salt: salt) { $0.dropped += 1 }
  }

  /// A shadow scoring that failed (e.g. the model is not loaded).
  public func recordShadowFailed(experimentKey: String, salt: String) {
    updateShadow(experimentKey: experimentKey, salt: salt) { $0.failed += 1 }
  }

  private func updateShadow(experimentKey: String, salt: String, _ update: (inout ShadowCounters) -> Void) {
    lock.lock()
    update(&tallyLocked(key: experimentKey, salt: salt).shadow)
    lock.unlock()
  }

  // MARK: - For ExperimentSet

  /// The slots of an experiment run's arms, by name, created at zero when new.
  func slots(key: String, salt: String, armNames: [String], feedbackTTLSeconds: Int? = nil) -> [TallySlot] {
    lock.lock()
    defer { lock.unlock() }
    let tally = tallyLocked(key: key, salt: salt)
    tally.feedbackTTLSeconds = feedbackTTLSeconds
    return armNames.map { TallySlot(tally: tally, arm: tally.slot(named: $0)) }
  }

  /// A consistent copy of the given slots' counters (all of one tally) and the tally's shadow sums.
  /// With a shared state the arms' counters are the state's (`fresh`: read through to it, for the
  /// report; else its cached copy, for Thompson sampling), and this process's own until the state
  /// has read any; the shadow sums are always this process's.
  func counters(_ slots: [TallySlot], fresh: Bool = false) -> (arms: [ArmCounters], shadow: ShadowCounters) {
    lock.lock()
    let local = slots.map { $0.tally.arms[$0.arm] }
    let names = slots.map { $0.tally.names[$0.arm] }
    let shadow = slots.first?.tally.shadow ?? ShadowCounters()
    let run = slots.first.map { TallyKey(key: $0.tally.key, salt: $0.tally.salt) }
    lock.unlock()
    guard let state, let run, let shared = state.counts(key: run.key, salt: run.salt, fresh: fresh) else {
      return (local, shadow)
    }
    return (names.map { shared[$0] ?? ArmCounters() }, shadow)
  }

  // MARK: - For snapshots

  func withLockedState<Result>(
    _ body: (ExposureWindow, [TallyKey: ExperimentTally], Int) -> Result
  ) -> Result {
    lock.lock()
    defer { lock.unlock() }
    return body(window, tallies, unjoined)
  }

  /// `body` gets a tally lookup (created when new), the window and the unjoined count, under the lock.
  func withLockedTallies(
    _ body: (_ tally: (String, String) -> ExperimentTally, inout ExposureWindow, inout Int) -> Void
  ) {
    lock.lock()
    defer { lock.unlock() }
    body({ self.tallyLocked(key: $0, salt: $1) }, &window, &unjoined)
  }

  private func tallyLocked(key: String, salt: String) -> ExperimentTally {
    let tallyKey = TallyKey(key: key, salt: salt)
    if let tally = tallies[tallyKey] { return tally }
    let tally = ExperimentTally(key: key, salt: salt, ledgerID: ObjectIdentifier(self))
    tallies[tallyKey] = tally
    return tally
  }
}

import CGRPCShim
import Experiments
import Foundation
import ModelStore
import PluginHost
import RecSysStatus
import Synchronization

/// Scores requests with an experiment's shadow model off the request path and records how
/// far its top-k agrees with the list that was served. The shadow's answer never reaches the
/// caller, and shadow work must not cost the live path latency:
/// - the request path only copies the request (its view dies with the call) into a short
///   bounded queue; a full queue drops the job (counted), never waits;
/// - one worker thread under SCHED_IDLE scores the jobs, and starts one only while no Recommend
///   call is running; a call that starts meanwhile raises the shadow's cancellation flag, so the
///   shadow plugin stops at its next check (counted as dropped) and leaves the cores and caches
///   to serving. Measured on 2 cores at half load, a shadow under nice 19 tripled p99, and under
///   SCHED_IDLE alone still raised it ~3x (it shares caches and memory bandwidth).
/// So the shadow covers every request while the sidecar has idle time, and a sample (the
/// requests followed by a gap) when it is busy; `dropped` says how many went unshadowed.
/// Public for its tests, which drive it with a recording `ShadowOutcomes`.
public final class ShadowScoring: @unchecked Sendable {
  /// A copy of one served request, and what was served.
  public struct Job {
    var experimentKey: String
    var salt: String
    var shadow: ModelSelector
    var request: ModelRequest
    var served: [Int64]
    /// Set for the requests sampled for off-policy evaluation (`ope_sample_percent`).
    var offPolicy: OffPolicySample? = nil

    public init(experimentKey: String, salt: String, shadow: ModelSelector, request: ModelRequest, served: [Int64]) {
      (self.experimentKey, self.salt, self.shadow, self.request, self.served) = (experimentKey, salt, shadow, request, served)
    }

    init(experimentKey: String, salt: String, shadow: ModelSelector, request: ModelRequest, served: [Int64],
         offPolicy: OffPolicySample?) {
      self.init(experimentKey: experimentKey, salt: salt, shadow: shadow, request: request, served: served)
      self.offPolicy = offPolicy
    }
  }

  /// What the off-policy record of a sampled request needs besides the shadow's answer.
  struct OffPolicySample {
    var requestID: String
    var servedModel: ModelSelector  // name@version that served
    var propensities: [Float]  // as served
  }

  private let registry: ModelRegistry
  private let ledger: any ShadowOutcomes
  private let exposureLog: ExposureLog?
  private let capacity: Int
  private let condition = NSCondition()
  private var jobs: [Job] = []  // under `condition`
  private var stopped = false  // under `condition`
  private var worker: Thread?
  /// Recommend calls running now.
  private let running = Atomic<Int>(0)
  /// Jobs queued, readable without the lock (a call that ends checks it).
  private let queued = Atomic<Int>(0)
  /// The shadow plugin's cancellation flag (recsys_request.cancelled): 1 while calls run.
  private let preempted: UnsafeMutablePointer<Int32> = {
    let flag = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    flag.initialize(to: 0)
    return flag
  }()

  public init(registry: ModelRegistry, ledger: any ShadowOutcomes, exposureLog: ExposureLog? = nil, capacity: Int = 4) {
    self.registry = registry
    self.ledger = ledger
    self.exposureLog = exposureLog
    self.capacity = capacity
    let thread = Thread { [weak self] in
      // Shadow scoring only gets CPU that serving leaves idle. On Linux the policy and the nice
      // value are per thread, and pid/who 0 name the calling thread (sched_setscheduler(2),
      // setpriority(2)); nice 19 is the fallback where SCHED_IDLE is not allowed.
      var parameters = sched_param()
      parameters.sched_priority = 0
      if sched_setscheduler(0, Self.idlePolicy, &parameters) != 0 {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
      }
      self?.run()
    }
    thread.name = "recsys-shadow"
    worker = thread
    thread.start()
  }

  /// Linux's SCHED_IDLE (<sched.h>; not imported into Swift).
  private static let idlePolicy: Int32 = 5

  deinit { preempted.deallocate() }

  /// Every Recommend call, as it starts: a shadow computation in progress stops at its next check.
  public func callStarted() {
    running.add(1, ordering: .sequentiallyConsistent)
    preempted.pointee = 1
  }

  /// Every Recommend call, as it ends: the last one out lets a waiting shadow job run.
  public func callEnded() {
    let (_, now) = running.subtract(1, ordering: .sequentiallyConsistent)
    if now == 0 && queued.load(ordering: .relaxed) > 0 {
      condition.lock()
      condition.signal()
      condition.unlock()
    }
  }

  /// Request path: never blocks on scoring; a full queue drops the job (counted).
  public func submit(_ job: Job) {
    condition.lock()
    let accepted = !stopped && jobs.count < capacity
    if accepted {
      jobs.append(job)
      queued.store(jobs.count, ordering: .relaxed)
    }
    condition.unlock()
    if !accepted { ledger.recordShadowDropped(experimentKey: job.experimentKey, salt: job.salt) }
  }

  /// Stops the worker after the job it is scoring; queued jobs are dropped.
  public func stop() {
    condition.lock()
    stopped = true
    jobs.removeAll()
    condition.broadcast()
    condition.unlock()
  }

  private func run() {
    while true {
      condition.lock()
      while true {
        if stopped {
          condition.unlock()
          return
        }
        if !jobs.isEmpty {
          // Lower the flag before looking at `running`: a call that starts after the look
          // raises it again, so the job never runs unnoticed beside a call.
          preempted.pointee = 0
          if running.load(ordering: .sequentiallyConsistent) == 0 { break }
        }
        // Woken by submit-then-idle (callEnded), stop(), or this timeout as a safety net.
        _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
      }
      let job = jobs.removeFirst()
      queued.store(jobs.count, ordering: .relaxed)
      condition.unlock()
      score(job)
    }
  }

  private func score(_ job: Job) {
    let key = job.experimentKey
    do {
      let candidate = try registry.resolve(job.shadow)
      let answer = try candidate.instance.recommend(job.request, cancelled: UnsafePointer(preempted))
      job.served.withUnsafeBufferPointer { served in
        answer.itemIDs.withUnsafeBufferPointer { shadow in
          ledger.recordShadow(experimentKey: key, salt: job.salt, served: served, shadow: shadow)
        }
      }
      if let sample = job.offPolicy, let exposureLog {
        // Best effort: a record that cannot be made (preempted, model gone) is simply not in the sample.
        try? recordOffPolicy(job, sample, candidate: "\(candidate.name)@\(candidate.version)", ranking: answer.itemIDs,
                             to: exposureLog)
      }
    } catch let error as PluginError where error.code == .cancelled {
      ledger.recordShadowDropped(experimentKey: key, salt: job.salt)  // preempted by a live call: unshadowed
    } catch {
      ledger.recordShadowFailed(experimentKey: key, salt: job.salt)
    }
  }
}

/// Where the shadow's results go: the experiment ledger, in production.
public protocol ShadowOutcomes: Sendable {
  func recordShadow(experimentKey: String, salt: String, served: UnsafeBufferPointer<Int64>,
                    shadow: UnsafeBufferPointer<Int64>)
  func recordShadowDropped(experimentKey: String, salt: String)
  func recordShadowFailed(experimentKey: String, salt: String)
}

extension ExperimentLedger: ShadowOutcomes {}

extension ShadowScoring {
  /// Writes the sampled request's off-policy record. An exploring response (a propensity below 1)
  /// also needs the logging model's greedy order of every eligible candidate: the logging model
  /// scores the request again with top_k = all candidates (whole-catalog requests are not
  /// recorded: ranking the catalog here would cost a full sort per sample).
  private func recordOffPolicy(_ job: Job, _ sample: OffPolicySample, candidate: String, ranking: [Int64],
                               to log: ExposureLog) throws {
    var loggingRanking: [Int64] = []
    if sample.propensities.contains(where: { $0 != 1 }) {
      guard !job.request.candidateItemIDs.isEmpty else { return }
      var everything = job.request
      everything.topK = job.request.candidateItemIDs.count
      let logged = try registry.resolve(sample.servedModel).instance.recommend(
        everything, cancelled: UnsafePointer(preempted))
      loggingRanking = OffPolicyRecord.greedyOrder(
        items: logged.itemIDs, scores: logged.scores, candidateOrder: job.request.candidateItemIDs)
    }
    log.append(Exposure(
      requestID: sample.requestID, timestamp: Date(), userID: "", surface: "", experiment: "", arm: "", bucket: -1,
      armProbability: 1, forced: false, model: "", modelVersion: 0, itemIDs: [], scores: [], propensities: [],
      shadow: "", offPolicy: OffPolicyRecord(candidate: candidate, ranking: ranking, loggingRanking: loggingRanking)))
  }
}

extension ShadowScoring.Job {
  /// Copies what the shadow needs out of the call's request view (valid only during the call).
  init(request: rs_recommend_request, experimentKey: String, salt: String,
       shadow: ModelSelector, seed: UInt64, exclusions: ItemExclusions, served: UnsafeBufferPointer<Int64>,
       offPolicy: ShadowScoring.OffPolicySample? = nil) {
    func copy<Element>(_ pointer: UnsafePointer<Element>?, _ count: Int) -> [Element] {
      guard let pointer, count > 0 else { return [] }
      return Array(UnsafeBufferPointer(start: pointer, count: count))
    }
    let copied = ModelRequest(
      historyItemIDs: copy(request.history_item_ids, request.history_count),
      historyTypes: copy(request.history_types, request.history_count),
      candidateItemIDs: copy(request.candidate_item_ids, request.candidate_count),
      candidateFeatures: copy(request.candidate_features, request.candidate_features_count),
      context: copy(request.context, request.context_count),
      topK: Int(request.top_k), excludeHistory: request.exclude_history, seed: seed, exclusions: exclusions)
    self.init(experimentKey: experimentKey, salt: salt, shadow: shadow, request: copied, served: Array(served),
              offPolicy: offPolicy)
  }
}

import CGRPCShim
import CRecSysPlugin
import Experiments
import Foundation
import ModelStore
import PluginHost
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
final class ShadowScoring: @unchecked Sendable {
  /// A copy of one served request, and what was served.
  struct Job {
    var experimentKey: String
    var salt: String
    var shadow: ModelSelector
    var historyItemIDs: [Int64]
    var historyTypes: [Int32]
    var candidateItemIDs: [Int64]
    var candidateFeatures: [Float]
    var context: [Float]
    var topK: Int
    var excludeHistory: Bool
    var seed: UInt64
    var served: [Int64]
  }

  private let registry: ModelRegistry
  private let ledger: ExperimentLedger
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

  init(registry: ModelRegistry, ledger: ExperimentLedger, capacity: Int = 4) {
    self.registry = registry
    self.ledger = ledger
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
  func callStarted() {
    running.add(1, ordering: .sequentiallyConsistent)
    preempted.pointee = 1
  }

  /// Every Recommend call, as it ends: the last one out lets a waiting shadow job run.
  func callEnded() {
    let (_, now) = running.subtract(1, ordering: .sequentiallyConsistent)
    if now == 0 && queued.load(ordering: .relaxed) > 0 {
      condition.lock()
      condition.signal()
      condition.unlock()
    }
  }

  /// Request path: never blocks on scoring; a full queue drops the job (counted).
  func submit(_ job: Job) {
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
  func stop() {
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
    guard let model = try? registry.resolve(job.shadow) else {
      ledger.recordShadowFailed(experimentKey: job.experimentKey, salt: job.salt)
      return
    }
    var itemIDs = [Int64](repeating: 0, count: job.topK)
    var scores = [Float](repeating: 0, count: 2 * job.topK)
    var unknown = [Int64](repeating: 0, count: max(job.candidateItemIDs.count, 1))
    let succeeded: Bool = job.historyItemIDs.withUnsafeBufferPointer { history in
      job.historyTypes.withUnsafeBufferPointer { types in
        job.candidateItemIDs.withUnsafeBufferPointer { candidates in
          job.candidateFeatures.withUnsafeBufferPointer { features in
            job.context.withUnsafeBufferPointer { context in
              itemIDs.withUnsafeMutableBufferPointer { itemIDs in
                scores.withUnsafeMutableBufferPointer { floats in
                  unknown.withUnsafeMutableBufferPointer { unknown in
                    var request = recsys_request(
                      history_item_ids: history.baseAddress, history_types: types.baseAddress,
                      history_count: history.count, candidate_item_ids: candidates.baseAddress,
                      candidate_count: candidates.count, candidate_features: features.baseAddress,
                      candidate_feature_count: features.count, context: context.baseAddress,
                      context_count: context.count, top_k: UInt32(job.topK),
                      exclude_history: job.excludeHistory ? 1 : 0, seed: job.seed,
                      cancelled: UnsafePointer(preempted))
                    var result = recsys_result(
                      item_ids: itemIDs.baseAddress, scores: floats.baseAddress,
                      propensities: floats.baseAddress! + job.topK, capacity: job.topK, count: 0,
                      unknown_item_ids: unknown.baseAddress, unknown_count: 0)
                    do {
                      try model.instance.recommend(&request, into: &result)
                    } catch let error as PluginError where error.code == RECSYS_CANCELLED {
                      ledger.recordShadowDropped(experimentKey: job.experimentKey, salt: job.salt)
                      return true  // preempted by a live call: unshadowed, not failed
                    } catch {
                      return false
                    }
                    let shadowList = UnsafeBufferPointer(rebasing: itemIDs[..<min(result.count, job.topK)])
                    job.served.withUnsafeBufferPointer { served in
                      ledger.recordShadow(experimentKey: job.experimentKey, salt: job.salt, served: served, shadow: shadowList)
                    }
                    return true
                  }
                }
              }
            }
          }
        }
      }
    }
    if !succeeded { ledger.recordShadowFailed(experimentKey: job.experimentKey, salt: job.salt) }
  }
}

extension ShadowScoring.Job {
  /// Copies what the shadow needs out of the call's request view (valid only during the call).
  init(request: rs_recommend_request, experimentKey: String, salt: String,
       shadow: ModelSelector, seed: UInt64, served: UnsafeBufferPointer<Int64>) {
    func copy<Element>(_ pointer: UnsafePointer<Element>?, _ count: Int) -> [Element] {
      guard let pointer, count > 0 else { return [] }
      return Array(UnsafeBufferPointer(start: pointer, count: count))
    }
    self.init(
      experimentKey: experimentKey, salt: salt, shadow: shadow,
      historyItemIDs: copy(request.history_item_ids, request.history_count),
      historyTypes: copy(request.history_types, request.history_count),
      candidateItemIDs: copy(request.candidate_item_ids, request.candidate_count),
      candidateFeatures: copy(request.candidate_features, request.candidate_features_count),
      context: copy(request.context, request.context_count),
      topK: Int(request.top_k), excludeHistory: request.exclude_history, seed: seed, served: Array(served))
  }
}

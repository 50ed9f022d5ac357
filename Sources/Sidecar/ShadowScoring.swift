import CGRPCShim
import CRecSysPlugin
import Experiments
import Foundation
import ModelStore

/// Scores requests with an experiment's shadow model off the request path and records how
/// far its top-k agrees with the list that was served. The shadow's answer never reaches the
/// caller.
///
/// The request path only copies the request (its view dies with the call) into a short bounded
/// queue; when the queue is full the job is dropped and counted, never waited for. One worker
/// thread under SCHED_IDLE scores the jobs: it runs only on a core nothing else wants, and a
/// request thread that wakes preempts it at once (under nice 19 alone, measured on this kernel,
/// the shadow still tripled p99 at half load). The queue is short so that a backlog never builds
/// up to be worked off while requests arrive: when serving keeps the cores busy, requests go
/// unshadowed (counted as dropped) rather than slowed.
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

  /// Request path: never blocks on scoring; a full queue drops the job (counted).
  func submit(_ job: Job) {
    condition.lock()
    let accepted = !stopped && jobs.count < capacity
    if accepted {
      jobs.append(job)
      condition.signal()
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
      while jobs.isEmpty && !stopped { condition.wait() }
      if stopped {
        condition.unlock()
        return
      }
      let job = jobs.removeFirst()
      condition.unlock()
      score(job)
    }
  }

  private func score(_ job: Job) {
    guard let model = try? registry.resolve(job.shadow) else {
      ledger.recordShadowFailed(experimentKey: job.experimentKey, salt: job.salt)
      return
    }
    let notCancelled = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    notCancelled.initialize(to: 0)
    defer { notCancelled.deallocate() }
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
                      cancelled: UnsafePointer(notCancelled))
                    var result = recsys_result(
                      item_ids: itemIDs.baseAddress, scores: floats.baseAddress,
                      propensities: floats.baseAddress! + job.topK, capacity: job.topK, count: 0,
                      unknown_item_ids: unknown.baseAddress, unknown_count: 0)
                    guard (try? model.instance.recommend(&request, into: &result)) != nil else { return false }
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

import CGRPCShim
import Experiments
import Foundation
import Logging
import ModelStore
import PluginHost
import Routing
import RecSysStatus

/// Serves Recommend: validates the request view, routes it to a model instance,
/// lets the plugin rank straight from the request's memory, and fills the response.
/// Runs on grpc's callback threads, several at once; it holds no lock while scoring.
///
/// After scoring, a served response is recorded where it is wanted: in the experiments'
/// ledger (for Feedback and the per-arm results), the exposure log (a queue, never waited
/// on) and the shadow scorer (a queue, never waited on).
public final class RecommendService: @unchecked Sendable {
  let router: Router
  let registry: ModelRegistry
  let limits: RequestLimits
  let logger: Logger
  let metrics: SidecarMetrics?
  let ledger: ExperimentLedger?
  let exposureLog: ExposureLog?
  private let shadow: ShadowScoring?
  /// The named item sets requests exclude (`exclude_item_sets`), replaced through ModelAdmin.
  public let itemSets: ItemSetRegistry

  /// Items a request may name in exclude_item_ids, and item sets in exclude_item_sets.
  public static let maxExcludedItems = 100_000
  public static let maxExcludedSets = 16

  /// `ledger`: given when experiments run (the feedback window and per-arm counters);
  /// `exposureLog`: where each served response is logged, if anywhere.
  public init(router: Router, registry: ModelRegistry, limits: RequestLimits, logger: Logger,
              metrics: SidecarMetrics? = nil, ledger: ExperimentLedger? = nil, exposureLog: ExposureLog? = nil,
              itemSets: ItemSetRegistry = ItemSetRegistry()) {
    self.itemSets = itemSets
    self.router = router
    self.registry = registry
    self.limits = limits
    self.logger = logger
    self.metrics = metrics
    self.ledger = ledger
    self.exposureLog = exposureLog
    shadow = ledger.map { ShadowScoring(registry: registry, ledger: $0, exposureLog: exposureLog) }
  }

  /// After the server drained: stops shadow scoring and writes out the exposure log.
  public func shutdown() {
    shadow?.stop()
    exposureLog?.close()
  }

  /// Handles one call; returns the gRPC status code the shim finishes it with.
  func handle(_ request: rs_recommend_request, _ response: OpaquePointer) -> Int32 {
    let started = ContinuousClock.now
    // Shadow scoring runs only while no call does (see ShadowScoring).
    shadow?.callStarted()
    defer { shadow?.callEnded() }
    guard let metrics else {
      var served: ServingModel?
      var assignment: Assignment?
      return serve(request, response, started: started, served: &served, assignment: &assignment)
    }
    metrics.requestStarted()
    var served: ServingModel?
    var assignment: Assignment?
    let code = serve(request, response, started: started, served: &served, assignment: &assignment)
    metrics.requestFinished(model: served?.name, version: served?.version ?? 0,
                            arm: assignment.map { "\($0.experimentKey)/\($0.armName)" } ?? "", code: code,
                            elapsed: ContinuousClock.now - started)
    return code
  }

  /// The call itself; `served` and `assignment` are set once chosen (for the metrics' labels).
  private func serve(_ request: rs_recommend_request, _ response: OpaquePointer, started: ContinuousClock.Instant,
                     served: inout ServingModel?, assignment: inout Assignment?) -> Int32 {
    let requestID = request.request_id.length > 0 ? string(request.request_id) : RequestID.generate()
    requestID.withCString { rs_response_set_request_id(response, $0, strlen($0)) }
    var stage = "before scoring"
    do {
      try validate(request)
      let exclusions = try exclusions(request)
      // Exploring kinds (dqn) and Thompson arms draw from this seed: with the request id it
      // replays the answer.
      let seed = RequestID.seed(requestID)
      let route = try router.route(Router.Request(
        explicitModel: string(request.model), forcedArm: string(request.forced_arm),
        traits: RequestTraits(userID: string(request.user_id), surface: string(request.surface),
                              historyCount: request.history_count, candidateCount: request.candidate_count),
        seed: seed))
      let model = try registry.resolve(route.selector)
      served = model
      assignment = route.assignment
      if model.instance.plugin.needsCandidates && request.candidate_count == 0 {
        throw ServiceError.invalidArgument(
          "candidate_item_ids is empty; model \"\(model.name)\" (kind \(model.kind)) scores given candidates only")
      }
      logger.debug("recommend", metadata: [
        "request_id": "\(requestID)", "model": "\(model.name)@\(model.version)",
        "seed": "\(RequestID.explorationSeed(seed, model: model.name))",
        "experiment": "\(route.assignment?.experimentKey ?? "")", "arm": "\(route.assignment?.armName ?? "")",
      ])
      // A caller that already gave up (with a 1 ms deadline, usually before the call got
      // here) costs no scoring; one that gives up later is seen by the plugin's own checks.
      if let stopped = Self.cancellation(response, stage: stage) { throw stopped }
      stage = "while scoring"
      try rank(request, with: model, seed: RequestID.explorationSeed(seed, model: model.name), exclusions: exclusions,
               into: response) { items, scores, propensities, explanations in
        record(request, requestID: requestID, route: route, model: model, seed: seed, exclusions: exclusions,
               items: items, scores: scores, propensities: propensities, explanations: explanations)
      }
      model.name.withCString { rs_response_set_model(response, $0, strlen($0), Int64(model.version)) }
      if let routed = route.assignment {
        routed.experimentKey.withCString { key in
          routed.armName.withCString { arm in
            rs_response_set_routing(response, key, strlen(key), arm, strlen(arm), Int32(routed.bucket))
          }
        }
      }
      return StatusCode.ok.rawValue
    } catch {
      var failure = ServiceError(error)
      // A plugin that stopped early says CANCELLED; the shim knows whether it was the deadline.
      if failure.code == .cancelled, let stopped = Self.cancellation(response, stage: stage) {
        failure = stopped
      }
      switch failure.code {
      case .internal:
        logger.error("Recommend failed", metadata: ["request_id": "\(requestID)", "error": "\(failure.message)"])
      case .cancelled, .deadlineExceeded:
        logger.debug("Recommend stopped early", metadata: [
          "request_id": "\(requestID)",
          "status": "\(failure.code.name)",
          "stage": "\(stage)", "elapsed_ms": "\(Self.milliseconds(since: started))",
        ])
      default: break
      }
      failure.transmittedMessage.withCString { rs_response_set_error(response, $0, strlen($0)) }
      return failure.code.rawValue
    }
  }

  /// The error a call the caller gave up on ends with; nil while the caller still waits.
  private static func cancellation(_ response: OpaquePointer, stage: String) -> ServiceError? {
    switch StatusCode(rawValue: rs_response_cancellation(response)) {
    case .deadlineExceeded:
      return ServiceError(code: .deadlineExceeded, message: "the call's deadline passed \(stage); stopped early")
    case .cancelled:
      return ServiceError(code: .cancelled, message: "the call was cancelled \(stage); stopped early")
    default:
      return nil
    }
  }

  private static func milliseconds(since start: ContinuousClock.Instant) -> Int {
    let elapsed = ContinuousClock.now - start
    return Int(elapsed.components.seconds * 1_000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
  }

  /// One served response, recorded for the experiments (feedback join, per-arm counts), the
  /// exposure log and the shadow model. Only queues and short locks: nothing here waits.
  private func record(_ request: rs_recommend_request, requestID: String, route: Router.Route, model: ServingModel,
                      seed: UInt64, exclusions: ItemExclusions, items: UnsafeBufferPointer<Int64>, scores: UnsafeBufferPointer<Float>,
                      propensities: UnsafeBufferPointer<Float>, explanations: Explanations?) {
    let assignment = route.assignment
    ledger?.recordExposure(requestID: requestID, assignment: assignment, itemIDs: items)
    let shadowModel = assignment?.shadow
    let experiment = assignment.flatMap { assignment in
      route.experiments?.config.experiments.first(where: { $0.key == assignment.experimentKey })
    }
    let salt = experiment?.salt
    if let exposureLog {
      exposureLog.append(Exposure(
        requestID: requestID, timestamp: Date(), userID: string(request.user_id), surface: string(request.surface),
        experiment: assignment?.experimentKey ?? "", arm: assignment?.armName ?? "", bucket: assignment?.bucket ?? -1,
        armProbability: assignment?.probability ?? 1, forced: assignment?.forced ?? false,
        model: model.name, modelVersion: model.version, itemIDs: Array(items), scores: Array(scores),
        propensities: Array(propensities), shadow: shadowModel?.description ?? "", explanations: explanations,
        salt: salt ?? ""))
    }
    if let shadow, let assignment, let shadowModel, let salt {
      shadow.submit(ShadowScoring.Job(
        request: request, experimentKey: assignment.experimentKey, salt: salt, shadow: shadowModel,
        seed: RequestID.explorationSeed(seed, model: shadowModel.model), exclusions: exclusions,
        served: items, offPolicy: Self.sampledForOffPolicy(seed, percent: experiment?.opeSamplePercent ?? 0)
          ? ShadowScoring.OffPolicySample(
            requestID: requestID, servedModel: ModelSelector(model: model.name, version: .number(model.version)),
            propensities: Array(propensities))
          : nil))
    }
  }

  /// Whether a request (by its seed, a hash of its id) is in the off-policy sample.
  private static func sampledForOffPolicy(_ seed: UInt64, percent: Double) -> Bool {
    percent > 0 && Double(seed >> 11) * 0x1p-53 * 100 < percent
  }

  /// Runs the plugin with answer buffers sized to this request (on the call's stack), copies the
  /// top-k into the response, and hands them to `ranked` while the buffers live. With explain, the
  /// same request is then explained (only the returned items; see Explanations).
  private func rank(_ request: rs_recommend_request, with model: ServingModel, seed: UInt64, exclusions: ItemExclusions,
                    into response: OpaquePointer,
                    ranked: (UnsafeBufferPointer<Int64>, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>,
                             Explanations?) -> Void) throws {
    let borrowed = BorrowedRequest(
      historyItemIDs: UnsafeBufferPointer(start: request.history_item_ids, count: request.history_count),
      historyTypes: UnsafeBufferPointer(start: request.history_types, count: request.history_count),
      candidateItemIDs: UnsafeBufferPointer(start: request.candidate_item_ids, count: request.candidate_count),
      candidateFeatures: UnsafeBufferPointer(start: request.candidate_features, count: request.candidate_features_count),
      context: UnsafeBufferPointer(start: request.context, count: request.context_count),
      topK: Int(request.top_k), excludeHistory: request.exclude_history, seed: seed, exclusions: exclusions,
      cancelled: rs_response_cancelled_flag(response))
    try AnswerBuffers.withTemporary(topK: borrowed.topK, candidates: borrowed.candidateItemIDs.count) { buffers in
      let answer = try model.instance.recommend(borrowed, into: buffers)
      rs_response_set_items(response, answer.itemIDs.baseAddress, answer.scores.baseAddress,
                            answer.propensities.baseAddress, answer.itemIDs.count)
      let explanations = request.explain
        ? try Explanations.explain(borrowed, items: answer.itemIDs, model: model.instance, response: response) : nil
      ranked(answer.itemIDs, answer.scores, answer.propensities, explanations)
      rs_response_set_unknown_items(response, answer.unknownItemIDs.baseAddress, answer.unknownItemIDs.count)
    }
  }

  /// The request's eligibility filters: its exclude_item_ids (sorted once here) and the named item
  /// sets it asks for, looked up once before scoring (a set replaced meanwhile serves the next call).
  private func exclusions(_ request: rs_recommend_request) throws -> ItemExclusions {
    guard request.exclude_item_count <= Self.maxExcludedItems else {
      throw ServiceError.invalidArgument(
        "exclude_item_ids has \(request.exclude_item_count) items; the limit is \(Self.maxExcludedItems) per request "
          + "(keep larger lists server-side as a named item set: recsysctl item-set NAME ID...)")
    }
    guard request.exclude_item_set_count <= Self.maxExcludedSets else {
      throw ServiceError.invalidArgument(
        "exclude_item_sets names \(request.exclude_item_set_count) sets; the limit is \(Self.maxExcludedSets)")
    }
    var names: [String] = []
    for index in 0..<request.exclude_item_set_count {
      let name = request.exclude_item_sets[index]
      try requireLength(name, ItemSetRegistry.maxNameBytes, field: "exclude_item_sets[\(index)]", example: "\"out_of_stock\"")
      names.append(string(name))
    }
    return ItemExclusions(
      requestItemIDs: UnsafeBufferPointer(start: request.exclude_item_ids, count: request.exclude_item_count),
      namedSets: try itemSets.sets(named: names))
  }

  /// Checks what any model needs of a request; a model checks its own dimensions.
  private func validate(_ request: rs_recommend_request) throws {
    // Text fields first, by length alone: nothing after this echoes more than a bounded value.
    try requireLength(request.request_id, RequestLimits.maxIdentifierBytes, field: "request_id", example: "a UUID")
    try requireLength(request.user_id, RequestLimits.maxIdentifierBytes, field: "user_id", example: "your user id")
    try requireLength(request.model, RequestLimits.maxSelectorBytes, field: "model", example: "\"mlp\", \"mlp@3\", \"mlp@stable\"")
    try requireLength(request.forced_arm, RequestLimits.maxSelectorBytes, field: "forced_arm", example: "\"experiment-key/arm\"")
    try requireLength(request.surface, RequestLimits.maxSurfaceBytes, field: "surface", example: "\"home\", \"pdp\"")
    guard request.top_k >= 1 && Int(request.top_k) <= limits.maxTopK else {
      throw ServiceError.invalidArgument("top_k is \(request.top_k); ask for between 1 and \(limits.maxTopK) items")
    }
    if request.explain && Int(request.top_k) > limits.maxExplainTopK {
      throw ServiceError.invalidArgument(
        "top_k is \(request.top_k); with explain the limit is \(limits.maxExplainTopK) (each returned item is explained)")
    }
    guard request.candidate_count <= limits.maxCandidates else {
      throw ServiceError.invalidArgument(
        "candidate_item_ids has \(request.candidate_count) items; the limit is \(limits.maxCandidates) per request")
    }
    guard request.history_count <= limits.maxHistory else {
      throw ServiceError.invalidArgument(
        "history has \(request.history_count) events; the limit is \(limits.maxHistory) (send the most recent ones)")
    }
    guard request.context_count <= limits.maxContext else {
      throw ServiceError.invalidArgument("context has \(request.context_count) values; the limit is \(limits.maxContext)")
    }
    guard request.candidate_features_count <= limits.maxCandidateFeatures else {
      throw ServiceError.invalidArgument(
        "candidate_features has \(request.candidate_features_count) values; the limit is \(limits.maxCandidateFeatures)")
    }
    if request.candidate_features_count > 0
      && (request.candidate_count == 0 || request.candidate_features_count % request.candidate_count != 0)
    {
      throw ServiceError.invalidArgument(
        "candidate_features has \(request.candidate_features_count) values, not a whole number of rows for "
          + "\(request.candidate_count) candidates (row-major [candidates x F])")
    }
    try requireFinite(request.candidate_features, request.candidate_features_count, field: "candidate_features")
    try requireFinite(request.context, request.context_count, field: "context")
    for index in 0..<request.history_count where !(0...3).contains(request.history_types[index]) {
      throw ServiceError.invalidArgument(
        "history[\(index)].type is \(request.history_types[index]); use VIEW, CLICK, ADD_TO_CART or PURCHASE")
    }
    try CandidateIDs.requireDistinct(request.candidate_item_ids, count: request.candidate_count)
  }

  private func requireLength(_ text: rs_string, _ limit: Int, field: String, example: String) throws {
    guard text.length > limit else { return }
    throw ServiceError.invalidArgument("\(field) is \(text.length) bytes; the limit is \(limit) (e.g. \(example))")
  }

  private func requireFinite(_ values: UnsafePointer<Float>?, _ count: Int, field: String) throws {
    guard let values, count > 0 else { return }
    // A float is not finite when its exponent bits are all ones, i.e. (bits & mask) ^ mask == 0.
    // One branch-free SIMD pass keeps the smallest such value; find the culprit only on failure.
    let raw = UnsafeRawPointer(values)
    let mask = SIMD16<UInt32>(repeating: 0x7F80_0000)
    var smallest = mask
    var index = 0
    while index &+ 16 <= count {
      let bits = raw.loadUnaligned(fromByteOffset: index &* 4, as: SIMD16<UInt32>.self)
      smallest = pointwiseMin(smallest, (bits & mask) ^ mask)
      index &+= 16
    }
    var allFinite = smallest.min() != 0
    while index < count {
      allFinite = allFinite && values[index].isFinite
      index &+= 1
    }
    if allFinite { return }
    let culprit = (0..<count).first { !values[$0].isFinite }!
    throw ServiceError.invalidArgument("\(field)[\(culprit)] is \(values[culprit]); features must be finite numbers")
  }

  private func string(_ text: rs_string) -> String {
    guard let data = text.data, text.length > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: data, count: text.length), as: UTF8.self)
  }
}


extension RecommendService {
  /// One Recommend call on a serialized RecommendRequest, through the shim's parser and the same
  /// handler a gRPC call reaches, without a server: the status code and message a client would
  /// get. For fuzzing and tests.
  public func handleSerialized(_ bytes: UnsafeRawBufferPointer) -> (code: Int32, message: String) {
    var message = [CChar](repeating: 0, count: 4_096)
    let code = withExtendedLifetime(self) {
      rs_recommend_serialized(recommendHandler, Unmanaged.passUnretained(self).toOpaque(),
                              bytes.baseAddress, bytes.count, &message, message.count)
    }
    return (code, String(cString: message))
  }
}

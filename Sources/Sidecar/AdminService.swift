import CGRPCShim
import Experiments
import Foundation
import ModelStore
import PluginHost
import Routing
import RecSysStatus

/// ModelAdmin over the shim's JSON bridge. Admin calls may take seconds (a reload
/// loads and warms up models), so each runs off grpc's threads and finishes the
/// call when done.
public final class AdminService: @unchecked Sendable {
  let registry: ModelRegistry
  let router: Router?
  let experiments: ExperimentsFile?
  let exposureLog: ExposureLog?
  /// Where the experiments' results live (in-process, file or redis); nil reads "in-process".
  let experimentState: (@Sendable () -> ExperimentStateStatus)?
  let feedbackTTLSeconds: Int
  /// The feedback log's path, for EvaluateCandidate; nil when none is written.
  let feedbackLogPath: String?
  /// The named item sets SetItemSet replaces (the same registry RecommendService reads).
  let itemSets: ItemSetRegistry?
  private let work = DispatchQueue(label: "recsys.admin", attributes: .concurrent)

  /// `router`, `experiments`, `exposureLog`: what GetExperiments reports (nil parts read empty).
  public init(registry: ModelRegistry, router: Router? = nil, experiments: ExperimentsFile? = nil,
              exposureLog: ExposureLog? = nil, experimentState: (@Sendable () -> ExperimentStateStatus)? = nil,
              feedbackTTLSeconds: Int = 0, feedbackLogPath: String? = nil, itemSets: ItemSetRegistry? = nil) {
    self.feedbackLogPath = feedbackLogPath
    self.itemSets = itemSets
    self.registry = registry
    self.experimentState = experimentState
    self.feedbackTTLSeconds = feedbackTTLSeconds
    self.router = router
    self.experiments = experiments
    self.exposureLog = exposureLog
  }

  /// The shim's handle of one admin call: finished exactly once, from any thread.
  struct Call: @unchecked Sendable {
    let handle: OpaquePointer
  }

  func handle(_ handle: OpaquePointer, method: String, requestJSON: String) {
    let call = Call(handle: handle)
    let requestText = requestJSON
    work.async {
      let request = (try? JSONSerialization.jsonObject(with: Data(requestText.utf8))) as? [String: Any] ?? [:]
      do {
        let response: [String: Any]
        switch method {
        case "ListModels":
          let model = request["model"] as? String ?? ""
          response = ["models": self.registry.status(model: model.isEmpty ? nil : model).map(Self.json)]
        case "ReloadModels":
          self.registry.reload(retryFailed: true)
          response = ["models": self.registry.status(model: nil).map(Self.json)]
        case "SetVersionPolicy":
          let status = try self.registry.setPolicy(model: request["model"] as? String ?? "", try Self.change(request))
          response = ["model": Self.json(status)]
        case "ListPlugins":
          let (loaded, refused) = self.registry.pluginEntries()
          response = [
            "plugins": loaded.map { entry in
              ["path": entry.plugin.path, "kind": entry.plugin.kind, "version": entry.plugin.version,
               "abi_version": entry.plugin.abiVersion, "sha256": entry.sha256, "active": entry.active] as [String: Any]
            },
            "refused": refused.sorted { $0.key < $1.key }.map { ["path": $0.key, "reason": $0.value] },
          ]
        case "GetExperiments":
          response = self.experimentsStatus()
        case "ReloadExperiments":
          guard let experiments = self.experiments else {
            throw ServiceError(code: .failedPrecondition,
                               message: "this sidecar runs without an experiments file (start it with --experiments PATH)")
          }
          do {
            try experiments.reload()
          } catch {
            throw ServiceError(code: .failedPrecondition,
                               message: "experiments file refused, the previous config keeps serving: \(error)")
          }
          response = self.experimentsStatus()
        case "EvaluateCandidate":
          response = try self.evaluateCandidate(request["candidate"] as? String ?? "")
        case "SetItemSet":
          let set = try self.requireItemSets().replace(
            name: request["name"] as? String ?? "", itemIDs: try Self.itemIDs(request["item_ids"]))
          response = Self.json(set)
        case "ListItemSets":
          response = ["item_sets": try self.requireItemSets().all().map(Self.json)]
        default:
          throw ServiceError(code: .unimplemented, message: "ModelAdmin has no method \(method)")
        }
        let data = try JSONSerialization.data(withJSONObject: response, options: [.sortedKeys])
        Self.finish(call, StatusCode.ok.rawValue, String(decoding: data, as: UTF8.self))
      } catch {
        let failure = ServiceError(error)
        Self.finish(call, failure.code.rawValue, failure.transmittedMessage)
      }
    }
  }

  private static func finish(_ call: Call, _ status: Int32, _ text: String) {
    var text = text
    text.withUTF8 {
      rs_admin_finish(call.handle, status, UnsafeRawPointer($0.baseAddress)?.assumingMemoryBound(to: CChar.self), $0.count)
    }
  }

  /// proto3 JSON prints int64 as strings; accept both.
  private static func integer(_ value: Any?) -> Int? {
    if let number = value as? NSNumber { return number.intValue }
    if let text = value as? String { return Int(text) }
    return nil
  }

  private static func change(_ request: [String: Any]) throws -> PolicyChange {
    if let pin = integer(request["pin"]) { return .pin(pin) }
    if request["latest"] as? Bool == true { return .latest }
    if let label = request["label"] as? [String: Any], let name = label["label"] as? String, !name.isEmpty {
      return .label(name, integer(label["version"]) ?? 0)
    }
    throw ServiceError.invalidArgument("SetVersionPolicy needs one of: pin (a version), latest: true, or label {label, version}")
  }

  /// ExperimentsStatus as proto3 JSON: the config that serves with its live results.
  private func experimentsStatus() -> [String: Any] {
    let status = experiments?.currentStatus
    let defaultModel = router?.defaultModel.description ?? ""
    let reports = router?.currentExperiments?.report() ?? []
    return [
      "path": experiments?.path ?? "",
      "sha256": status?.sha256 ?? "",
      "loaded_at": status?.loadedAt.map { Self.timestamp($0) } ?? "",
      "last_error": status?.lastError ?? "",
      "default_model": defaultModel,
      "experiments": reports.map { report -> [String: Any] in
        [
          "key": report.key, "salt": report.salt, "mode": report.mode, "match": report.match,
          "holdout_percent": report.holdoutPercent, "min_share_percent": report.minSharePercent,
          "control": report.control,
          "arms": report.arms.map { arm -> [String: Any] in
            [
              "name": arm.name, "model": arm.holdout ? defaultModel : arm.model, "weight_percent": arm.weightPercent,
              "holdout": arm.holdout, "impressions": arm.impressions, "clicks": arm.clicks,
              "add_to_carts": arm.addToCarts, "purchases": arm.purchases, "revenue": arm.revenue,
              "ctr": arm.ctr, "ctr_low": arm.ctrLow, "ctr_high": arm.ctrHigh,
              "cvr": arm.cvr, "cvr_low": arm.cvrLow, "cvr_high": arm.cvrHigh,
              "ctr_z": arm.ctrZ, "ctr_p_value": arm.ctrPValue, "cvr_z": arm.cvrZ, "cvr_p_value": arm.cvrPValue,
              "traffic_share": arm.trafficShare, "serving_probability": arm.servingProbability,
              "revenue_per_impression": arm.revenuePerImpression,
            ].mapValues(Self.finite)
          },
          "shadow": [
            "model": report.shadow.model, "compared": report.shadow.compared, "dropped": report.shadow.dropped,
            "failed": report.shadow.failed, "mean_overlap_at_k": report.shadow.meanOverlapAtK,
            "mean_rank_correlation": report.shadow.meanRankCorrelation,
            "rank_correlation_count": report.shadow.rankCorrelationCount,
          ].mapValues(Self.finite),
        ]
      },
      "exposure_log": [
        "path": exposureLog?.path ?? "", "written": Int(exposureLog?.written ?? 0), "dropped": Int(exposureLog?.dropped ?? 0),
      ] as [String: Any],
      "feedback_unjoined": experiments?.ledger.unjoinedFeedback ?? 0,
      "feedback_window": experiments?.ledger.windowCapacity ?? 0,
      "experiment_state": stateStatus(),
    ]
  }

  private func stateStatus() -> [String: Any] {
    let state = experimentState?() ?? ExperimentStateStatus()
    return [
      "kind": state.kind, "address": state.address, "reachable": state.reachable, "last_error": state.lastError,
      "pending_slates": state.pendingSlates, "pending_impressions": state.pendingImpressions,
      "pending_feedback": state.pendingFeedback, "dropped": state.dropped, "flushes": state.flushes,
      "feedback_ttl_seconds": feedbackTTLSeconds,
    ]
  }

  /// JSONSerialization refuses NaN and infinities; a statistic that is undefined reads 0.
  private static func finite(_ value: Any) -> Any {
    if let number = value as? Double, !number.isFinite { return 0.0 }
    return value
  }

  private static func timestamp(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
  }

  private func requireItemSets() throws -> ItemSetRegistry {
    guard let itemSets else {
      throw ServiceError(code: .unimplemented, message: "this sidecar serves no item sets")
    }
    return itemSets
  }

  /// proto3 JSON writes int64 as strings ("123"); numbers are accepted too.
  private static func itemIDs(_ value: Any?) throws -> [Int64] {
    guard let list = value else { return [] }
    guard let values = list as? [Any] else {
      throw ServiceError(code: .invalidArgument, message: "item_ids must be a list of item ids")
    }
    return try values.map { element in
      if let text = element as? String, let id = Int64(text) { return id }
      if let number = element as? NSNumber, let id = Int64(exactly: number.doubleValue) { return id }
      throw ServiceError(code: .invalidArgument, message: "item_ids holds \(element), which is not an int64 item id")
    }
  }

  static func json(_ set: ItemSet) -> [String: Any] {
    ["name": set.name, "item_count": set.itemIDs.count, "generation": set.generation, "replaced_at": timestamp(set.replacedAt)]
  }

  static func json(_ status: ModelStatus) -> [String: Any] {
    [
      "name": status.name,
      "serving_version": status.servingVersion ?? 0,
      "policy": status.policy.pinned == nil ? "latest" : "pinned",
      "pinned_version": status.policy.pinned ?? 0,
      "labels": status.policy.labels,
      "error": status.error,
      "versions": status.versions.map { version in
        [
          "version": version.version, "state": version.state.rawValue, "error": version.error,
          "labels": version.labels, "kind": version.kind, "sha256": version.sha256, "description": version.description,
        ] as [String: Any]
      },
    ]
  }
}

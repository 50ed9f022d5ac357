import Experiments
import Foundation
import OffPolicy

/// `recsysctl experiments report --exposures GLOB --feedback GLOB`: the report computed from the
/// exposure and feedback logs of any number of replicas, the way the sidecar counts online:
/// an impression per non-forced routed response, a (request, item, type) counted once, a response
/// counting at most one click, add-to-cart and purchase, revenue summing the first value of each
/// distinct purchase. The result has the shape of GetExperiments, so the same view prints it.
struct OfflineReport {
  struct Run: Hashable {
    let key: String
    let salt: String
  }

  private struct Response {
    let run: Run?
    let arm: String
    var flags: Set<String> = []
  }

  private var counts: [Run: [String: ArmCounters]] = [:]
  private var responses: [String: Response] = [:]
  private var seen: Set<String> = []
  private(set) var exposureLines = 0
  private(set) var feedbackLines = 0
  private(set) var unjoined = 0
  private(set) var exposureFiles: [String] = []
  private(set) var feedbackFiles: [String] = []

  /// Reads every exposure file, then every feedback file (in file order, lines in order).
  init(exposures: String, feedback: String) throws {
    exposureFiles = try LogFiles.files(exposures)
    feedbackFiles = try LogFiles.files(feedback)
    for file in exposureFiles { for line in try LogFiles.lines(file) { addExposure(line) } }
    for file in feedbackFiles { for line in try LogFiles.lines(file) { addFeedback(line) } }
  }

  private mutating func addExposure(_ line: [String: Any]) {
    // The shadow's off-policy records share the file; they are not responses.
    guard line["ope"] == nil else { return }
    exposureLines += 1
    guard let requestID = line["request_id"] as? String else { return }
    let experiment = line["experiment"] as? String ?? ""
    let arm = line["arm"] as? String ?? ""
    let counted = !experiment.isEmpty && !(line["forced"] as? Bool ?? false)
    let run = counted ? Run(key: experiment, salt: line["salt"] as? String ?? "") : nil
    responses[requestID] = Response(run: run, arm: arm)
    if let run { counts[run, default: [:]][arm, default: ArmCounters()].impressions += 1 }
  }

  private mutating func addFeedback(_ line: [String: Any]) {
    feedbackLines += 1
    guard let requestID = line["request_id"] as? String, let item = (line["item_id"] as? NSNumber)?.int64Value,
          let type = line["type"] as? String
    else { return }
    guard var response = responses[requestID] else {
      unjoined += 1
      return
    }
    guard seen.insert("\(requestID)\u{0}\(item)\u{0}\(type)").inserted, let run = response.run else { return }
    let first = response.flags.insert(type).inserted
    var arm = counts[run]![response.arm]!
    switch type {
    case "CLICK": if first { arm.clicks += 1 }
    case "ADD_TO_CART": if first { arm.addToCarts += 1 }
    case "PURCHASE":
      if first { arm.purchases += 1 }
      let value = (line["value"] as? NSNumber)?.doubleValue ?? 0
      if value.isFinite && value > 0 { arm.revenue += value }
    default: break
    }
    counts[run]![response.arm] = arm
    responses[requestID] = response
  }

  /// As GetExperiments' JSON. With `config`, its experiments' arm order, control, mode and holdout;
  /// without, arms by name (the holdout last) and the first as control.
  func status(config: ExperimentsConfig?) -> [String: Any] {
    let runs = counts.keys.sorted { ($0.key, $0.salt) < ($1.key, $1.salt) }
    let experiments = runs.map { run -> [String: Any] in
      let arms = counts[run]!
      let configured = config?.experiments.first { $0.key == run.key && $0.salt == run.salt }
      var names = configured.map { $0.arms.map(\.name) } ?? arms.keys.filter { $0 != Arm.holdoutName }.sorted()
      names += arms.keys.filter { !names.contains($0) && $0 != Arm.holdoutName }.sorted()
      if arms[Arm.holdoutName] != nil { names.append(Arm.holdoutName) }
      let control = arms[names[0]] ?? ArmCounters()
      let total = arms.values.reduce(0) { $0 + $1.impressions }
      return [
        "key": run.key, "salt": run.salt, "mode": configured?.mode.rawValue ?? "offline",
        "match": configured?.matchDescription ?? "", "holdout_percent": configured?.holdoutPercent ?? 0,
        "min_share_percent": configured?.minSharePercent ?? 0, "control": names[0],
        "arms": names.map { name in
          Self.row(name, arms[name] ?? ArmCounters(), control: control, isControl: name == names[0], total: total,
                   model: configured?.arms.first { $0.name == name }?.model.description ?? "")
        },
      ]
    }
    return [
      "experiments": experiments,
      "offline": [
        "exposure_files": exposureFiles.count, "exposure_lines": exposureLines,
        "feedback_files": feedbackFiles.count, "feedback_lines": feedbackLines, "feedback_unjoined": unjoined,
      ],
    ]
  }

  private static func row(_ name: String, _ counts: ArmCounters, control: ArmCounters, isControl: Bool, total: Int,
                          model: String) -> [String: Any] {
    let rate = { (part: Int, whole: Int) in whole > 0 ? Double(part) / Double(whole) : 0 }
    let ctr = Proportions.wilson95(successes: counts.clicks, trials: counts.impressions)
    let cvr = Proportions.wilson95(successes: counts.purchases, trials: counts.impressions)
    let test = { (successes: Int, controlSuccesses: Int) -> (z: Double, pValue: Double) in
      isControl ? (0, 1) : Proportions.twoProportionZTest(
        successesA: successes, trialsA: counts.impressions, successesB: controlSuccesses, trialsB: control.impressions)
    }
    let ctrTest = test(counts.clicks, control.clicks)
    let cvrTest = test(counts.purchases, control.purchases)
    let finite = { (value: Double) in value.isFinite ? value : 0 }
    return [
      "name": name, "model": model, "holdout": name == Arm.holdoutName, "impressions": counts.impressions,
      "clicks": counts.clicks, "add_to_carts": counts.addToCarts, "purchases": counts.purchases,
      "revenue": counts.revenue, "ctr": rate(counts.clicks, counts.impressions), "ctr_low": finite(ctr.low),
      "ctr_high": finite(ctr.high), "cvr": rate(counts.purchases, counts.impressions), "cvr_low": finite(cvr.low),
      "cvr_high": finite(cvr.high), "ctr_z": finite(ctrTest.z), "ctr_p_value": finite(ctrTest.pValue),
      "cvr_z": finite(cvrTest.z), "cvr_p_value": finite(cvrTest.pValue),
      "traffic_share": rate(counts.impressions, total), "serving_probability": 0.0,
      "revenue_per_impression": counts.impressions > 0 ? counts.revenue / Double(counts.impressions) : 0,
    ]
  }
}


import Foundation

/// What `recsysctl experiments evaluate` and the `ModelAdmin/EvaluateCandidate` RPC answer: per
/// logging policy, the candidate's estimates beside the policy's own observed CTR, in the shape of
/// the proto's EvaluateCandidateResponse (JSON field names), so one view prints both.
public enum OffPolicyReport {
  public static func make(exposureFiles: [String], feedbackFiles: [String], candidate: String,
                          bootstrap: Bootstrap = Bootstrap()) throws -> [String: Any] {
    var logs = try OffPolicyLogs(exposureFiles: exposureFiles, feedbackFiles: feedbackFiles)
    return make(&logs, candidate: candidate, bootstrap: bootstrap)
  }

  public static func make(_ logs: inout OffPolicyLogs, candidate: String, bootstrap: Bootstrap = Bootstrap())
    -> [String: Any]
  {
    let groups = logs.groups(candidate: candidate)
    return [
      "candidate": candidate,
      "logging_policies": groups.map { json($0, bootstrap: bootstrap) },
      "exposure_lines": logs.exposureLines, "record_lines": logs.recordLines, "feedback_lines": logs.feedbackLines,
      "unusable_records": logs.unusable,
    ]
  }

  static func json(_ group: OffPolicyLogs.Group, bootstrap: Bootstrap) -> [String: Any] {
    let evaluation = Evaluation(slates: group.slates, bootstrap: bootstrap)
    let sums = evaluation.totals
    var result: [String: Any] = [
      "logging_model": group.loggingModel, "experiment": group.experiment, "requests": evaluation.requests,
      "rounds": evaluation.rounds, "matched_rounds": evaluation.matched,
      "missing_support_rounds": evaluation.missingSupport, "effective_sample_size": evaluation.effectiveSampleSize,
      // Unconditional, for checking against other implementations (biased where support is missing).
      "point_estimates": [
        "ips": sums.inverseProbabilityWeighting ?? 0, "snips": sums.selfNormalized ?? 0,
        "dr": sums.doublyRobustEstimate ?? 0,
      ],
    ]
    let estimates: [(String, Evaluation.Estimate?)] = [
      ("observed", evaluation.observed), ("ips", evaluation.inverseProbabilityWeighting),
      ("snips", evaluation.selfNormalized), ("dr", evaluation.doublyRobust),
    ]
    for (key, estimate) in estimates {
      if let estimate { result[key] = ["value": estimate.value, "low": estimate.low, "high": estimate.high] }
    }
    if evaluation.hasMissingSupport {
      let share = Double(evaluation.missingSupport) / Double(max(evaluation.rounds, 1))
      result["warning"] = "missing support: in \(evaluation.missingSupport) of \(evaluation.rounds) item-positions "
        + "(\(String(format: "%.1f", 100 * share))%) the candidate shows an item the logging policy could not show "
        + "there, so no estimate is unbiased; log with an exploring policy (dqn with epsilon > 0) to evaluate it"
    } else if evaluation.matched == 0 && evaluation.rounds > 0 {
      result["warning"] = "the candidate never showed the item the logging policy showed: no estimate has data"
    }
    return result
  }
}

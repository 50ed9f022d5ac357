import Foundation

/// An EvaluateCandidateResponse (proto3 JSON, or the same keys offline) as a human reads it: per
/// logging policy, its observed CTR and the candidate's estimates side by side.
struct OffPolicyView {
  let report: [String: Any]

  init(_ report: [String: Any]) { self.report = report }

  func text() -> String {
    let candidate = report["candidate"] as? String ?? "?"
    let policies = report["logging_policies"] as? [[String: Any]] ?? []
    var out = ""
    if policies.isEmpty {
      out += "candidate \(candidate): no logged request carries its ranking (set ope_sample_rate on an experiment "
        + "whose shadow is this model, and log exposures and feedback)\n"
    }
    for policy in policies {
      let experiment = policy["experiment"] as? String ?? ""
      out += "candidate \(candidate) on the traffic of \(policy["logging_model"] as? String ?? "?")"
      out += experiment.isEmpty ? "\n" : " (experiment \(experiment))\n"
      out += "  \(integer(policy["requests"])) requests, \(integer(policy["rounds"])) item-positions; the candidate "
        + "shows the logged item at \(integer(policy["matched_rounds"])); effective sample size "
        + String(format: "%.1f", number(policy["effective_sample_size"])) + "\n"
      var rows = [["", "item CTR", "95% interval"]]
      let lines = [("observed", "logging policy (observed)"), ("ips", "candidate, IPS"),
                   ("snips", "candidate, SNIPS"), ("dr", "candidate, doubly robust")]
      for (key, label) in lines {
        if let estimate = policy[key] as? [String: Any] {
          rows.append([label, percent(estimate["value"]),
                       "[\(percent(estimate["low"])), \(percent(estimate["high"]))]"])
        } else {
          rows.append([label, "-", "no estimate"])
        }
      }
      out += Table(rows: rows, rightAligned: [1]).render(indent: "  ")
      if let warning = policy["warning"] as? String, !warning.isEmpty { out += "  ! \(warning)\n" }
    }
    out += "logs: \(integer(report["exposure_lines"])) exposures, \(integer(report["record_lines"])) off-policy "
      + "records (\(integer(report["unusable_records"])) unusable for this candidate), "
      + "\(integer(report["feedback_lines"])) feedback lines\n"
    return out
  }

  private func number(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? 0 }

  private func percent(_ value: Any?) -> String { String(format: "%.2f%%", 100 * number(value)) }
}

import Foundation

/// An ExperimentsStatus (proto3 JSON, as rs_call_json prints it) as a human reads it:
/// `config()` for show/reload, `report()` for the per-arm results.
struct ExperimentsView {
  let status: [String: Any]

  init(_ status: [String: Any]) { self.status = status }

  var experiments: [[String: Any]] { status["experiments"] as? [[String: Any]] ?? [] }

  /// The file that serves, the default model, and each experiment's settings and arms.
  func config() -> String {
    var out = ""
    let path = text(status["path"])
    if path.isEmpty {
      out += "experiments: none (the sidecar runs without an experiments file)\n"
    } else {
      out += "experiments file  \(path)\n"
      out += "  sha256 \(text(status["sha256"]))  loaded \(text(status["loaded_at"]))\n"
    }
    let lastError = text(status["last_error"])
    if !lastError.isEmpty { out += "  ! newest content refused, the config above keeps serving: \(lastError)\n" }
    out += "default model  \(orNone(text(status["default_model"])))\n"
    for experiment in experiments {
      let thompson = text(experiment["mode"]) == "thompson"
      out += "\nexperiment \(text(experiment["key"]))  mode=\(text(experiment["mode"]))"
      out += "  salt=\(text(experiment["salt"]))\n"
      out += "  match    \(orNone(text(experiment["match"]), none: "all requests"))\n"
      out += "  holdout  \(percentSetting(number(experiment["holdout_percent"])))\n"
      if thompson { out += "  min share per arm  \(percentSetting(number(experiment["min_share_percent"])))\n" }
      // thompson: the weights do not route (the posterior does), so they are not shown.
      var rows = [thompson ? ["arm", "model", ""] : ["arm", "model", "weight", ""]]
      for arm in arms(experiment) {
        let isHoldout = arm["holdout"] as? Bool ?? false
        let note = isHoldout ? "(holdout: \(percentSetting(number(experiment["holdout_percent"]))) of matched users)"
          : isControl(arm, of: experiment) ? "(control)" : ""
        var row = [text(arm["name"]), text(arm["model"])]
        if !thompson { row.append(isHoldout ? "" : percentSetting(number(arm["weight_percent"]))) }
        rows.append(row + [note])
      }
      out += Table(rows: rows, rightAligned: thompson ? [] : [2]).render(indent: "  ")
      out += "  shadow   \(orNone(text((experiment["shadow"] as? [String: Any])?["model"])))\n"
    }
    out += "\n" + exposureLine() + feedbackLine()
    return out
  }

  /// Per experiment: the arms' results table, the z-test legend and the shadow agreement; then the counters.
  func report() -> String {
    var out = ""
    if experiments.isEmpty {
      out += text(status["path"]).isEmpty ? "experiments: none (the sidecar runs without an experiments file)\n"
        : "experiments: none configured in \(text(status["path"]))\n"
    }
    let lastError = text(status["last_error"])
    if !lastError.isEmpty { out += "! newest experiments file refused (the previous config serves): \(lastError)\n" }
    for (index, experiment) in experiments.enumerated() {
      if index > 0 { out += "\n" }
      let thompson = text(experiment["mode"]) == "thompson"
      var title = "experiment \(text(experiment["key"]))  mode=\(text(experiment["mode"]))"
      title += "  match: \(orNone(text(experiment["match"]), none: "all requests"))"
      title += "  holdout \(percentSetting(number(experiment["holdout_percent"])))"
      if thompson { title += "  min share \(percentSetting(number(experiment["min_share_percent"])))" }
      out += title + "\n"
      var header = ["arm", "model", "impressions", "clicks", "CTR [95% CI]", "z", "p", "purchases", "CVR [95% CI]", "p",
                    "revenue/impr", "share"]
      if thompson { header.append("P(serve)") }
      var rows = [header]
      for arm in arms(experiment) { rows.append(row(arm, control: isControl(arm, of: experiment), thompson: thompson)) }
      out += Table(rows: rows, rightAligned: Set(2..<header.count)).render(indent: "  ")
      out += "  * p < 0.05: two-proportion z-test against the control (\(text(experiment["control"])))\n"
      out += "  " + shadowLine(experiment["shadow"] as? [String: Any] ?? [:]) + "\n"
    }
    if let offline = status["offline"] as? [String: Any] {
      out += "\noffline: \(integer(offline["exposure_lines"])) exposure lines from \(integer(offline["exposure_files"])) "
      out += "files, \(integer(offline["feedback_lines"])) feedback lines from \(integer(offline["feedback_files"])) files; "
      out += "feedback_unjoined \(integer(offline["feedback_unjoined"]))\n"
      return out
    }
    out += "\n" + exposureLine() + feedbackLine() + stateLine()
    return out
  }

  /// Where the results live, and what waits to be written or was lost (README "Fleet").
  func stateLine() -> String {
    guard integer(status["feedback_window"]) > 0 else { return "" }
    let state = status["experiment_state"] as? [String: Any] ?? [:]
    let kind = orNone(text(state["kind"]), none: "in-process")
    var line = "experiment state: \(kind)"
    let address = text(state["address"])
    if !address.isEmpty { line += " \(address)" }
    guard kind != "in-process" else { return line + "\n" }
    line += (state["reachable"] as? Bool ?? false) ? " (reachable)" : " (UNREACHABLE: \(text(state["last_error"])))"
    line += "; pending slates \(integer(state["pending_slates"])), impressions \(integer(state["pending_impressions"]))"
    line += ", feedback \(integer(state["pending_feedback"])); dropped \(integer(state["dropped"]))"
    let ttl = integer(state["feedback_ttl_seconds"])
    if ttl > 0 { line += "; feedback TTL \(ttl) s" }
    return line + "\n"
  }

  func row(_ arm: [String: Any], control: Bool, thompson: Bool) -> [String] {
    let impressions = integer(arm["impressions"])
    let isHoldout = arm["holdout"] as? Bool ?? false
    let rate = { (value: String, low: String, high: String) -> String in
      guard impressions > 0 else { return "-" }
      return "\(percent(number(arm[value]))) [\(percent(number(arm[low]))), \(percent(number(arm[high])))]"
    }
    let test = { (z: String, p: String) -> [String] in
      control || impressions == 0 ? ["-", "-"] : [String(format: "%.2f", number(arm[z])), pValue(number(arm[p]))]
    }
    let name = text(arm["name"])
    var cells = [isHoldout && name != "holdout" ? "\(name) (holdout)" : name, text(arm["model"]), String(impressions),
                 String(integer(arm["clicks"])), rate("ctr", "ctr_low", "ctr_high")]
    cells += test("ctr_z", "ctr_p_value")
    cells += [String(integer(arm["purchases"])), rate("cvr", "cvr_low", "cvr_high")]
    cells.append(test("cvr_z", "cvr_p_value")[1])
    cells += [impressions == 0 ? "-" : String(format: "%.2f", number(arm["revenue_per_impression"])),
              percent(number(arm["traffic_share"]))]
    if thompson { cells.append(isHoldout ? "-" : String(format: "%.3f", number(arm["serving_probability"]))) }
    return cells
  }

  func shadowLine(_ shadow: [String: Any]) -> String {
    let model = text(shadow["model"])
    guard !model.isEmpty else { return "shadow: none" }
    var line = "shadow \(model): compared \(integer(shadow["compared"])), dropped \(integer(shadow["dropped"]))"
    line += ", failed \(integer(shadow["failed"]))"
    guard integer(shadow["compared"]) > 0 else { return line }
    line += "; mean overlap@k \(String(format: "%.3f", number(shadow["mean_overlap_at_k"])))"
    let correlated = integer(shadow["rank_correlation_count"])
    if correlated > 0 {
      let correlation = String(format: "%.3f", number(shadow["mean_rank_correlation"]))
      line += ", mean rank correlation (Kendall tau-b) \(correlation)"
      line += " over \(correlated) lists"
    }
    return line
  }

  func exposureLine() -> String {
    let log = status["exposure_log"] as? [String: Any] ?? [:]
    let path = text(log["path"])
    guard !path.isEmpty else { return "exposure log: off\n" }
    return "exposure log \(path): written \(integer(log["written"])), dropped \(integer(log["dropped"]))\n"
  }

  func feedbackLine() -> String {
    let window = integer(status["feedback_window"])
    guard window > 0 else { return "feedback: off (no experiments file)\n" }
    return "feedback_unjoined \(integer(status["feedback_unjoined"])) (feedback window: \(window) responses)\n"
  }

  func arms(_ experiment: [String: Any]) -> [[String: Any]] { experiment["arms"] as? [[String: Any]] ?? [] }

  func isControl(_ arm: [String: Any], of experiment: [String: Any]) -> Bool {
    !(arm["holdout"] as? Bool ?? false) && text(arm["name"]) == text(experiment["control"])
  }
}

/// Columns padded to their widest cell, two spaces apart.
struct Table {
  let rows: [[String]]
  let rightAligned: Set<Int>

  func render(indent: String) -> String {
    let columns = rows.map(\.count).max() ?? 0
    let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
    return rows.map { row in
      let cells = row.enumerated().map { column, cell in
        let padding = String(repeating: " ", count: widths[column] - cell.count)
        return rightAligned.contains(column) ? padding + cell : cell + padding
      }
      var line = indent + cells.joined(separator: "  ")
      while line.last == " " { line.removeLast() }
      return line + "\n"
    }.joined()
  }
}

func text(_ value: Any?) -> String { value as? String ?? "" }

func orNone(_ value: String, none: String = "none") -> String { value.isEmpty ? none : value }

/// proto3 JSON numbers: doubles as numbers, or "NaN" / "Infinity" as strings; int64 as strings.
func number(_ value: Any?) -> Double {
  if let number = value as? NSNumber { return number.doubleValue }
  if let text = value as? String { return Double(text) ?? .nan }
  return 0
}

/// A fraction as a percent: 0.0509 -> "5.09%".
func percent(_ fraction: Double) -> String {
  fraction.isFinite ? String(format: "%.2f%%", fraction * 100) : "-"
}

/// A value already in percent, without trailing zeros: 5 -> "5%", 2.5 -> "2.5%".
func percentSetting(_ value: Double) -> String {
  guard value.isFinite else { return "-" }
  var shown = String(format: "%.2f", value)
  while shown.hasSuffix("0") { shown.removeLast() }
  if shown.hasSuffix(".") { shown.removeLast() }
  return shown + "%"
}

/// "0.0123 *", "<0.0001 *", "0.4210".
func pValue(_ p: Double) -> String {
  guard p.isFinite else { return "-" }
  let shown = p < 0.0001 ? "<0.0001" : String(format: "%.4f", p)
  return p < 0.05 ? shown + " *" : shown
}

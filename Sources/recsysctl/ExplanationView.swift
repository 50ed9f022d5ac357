/// `recsysctl recommend --explain`: a reply with explanations as text a merchandiser can read.
enum ExplanationView {
  static func text(_ reply: [String: Any]) -> String {
    var out = "model \(reply["model"] as? String ?? "?")@\(string(reply["model_version"]))"
      + "  request \(reply["request_id"] as? String ?? "")\n"
    let items = reply["items"] as? [[String: Any]] ?? []
    for (rank, item) in items.enumerated() {
      out += "\(rank + 1). item \(string(item["item_id"]))  score \(number(item["score"]))\n"
      for event in item["because"] as? [[String: Any]] ?? [] {
        out += "     because of \(event["type"] as? String ?? "VIEW") of item \(string(event["item_id"])) "
          + "(history[\(string(event["position"]))]): contribution +\(number(event["contribution"]))\n"
      }
    }
    if !items.isEmpty && items.allSatisfy({ ($0["because"] as? [[String: Any]] ?? []).isEmpty }) {
      out += "no reasons: no history event raised these scores, or this model's kind gives no explanations\n"
    }
    let attention = reply["history_attention"] as? [[String: Any]] ?? []
    if !attention.isEmpty {
      out += "attention of the last position over the history (last block, mean of heads; not a contribution):\n"
      for event in attention {
        out += "  history[\(string(event["position"]))] \(event["type"] as? String ?? "VIEW") of item "
          + "\(string(event["item_id"])): \(number(event["weight"]))\n"
      }
    }
    return out
  }

  /// int64 fields arrive as JSON strings, int32 as numbers, default values possibly absent.
  private static func string(_ value: Any?) -> String {
    switch value {
    case let text as String: return text
    case let number as NSNumber: return number.stringValue
    default: return "0"
    }
  }

  private static func number(_ value: Any?) -> String {
    let double = (value as? NSNumber)?.doubleValue ?? (value as? String).flatMap(Double.init) ?? 0
    return String(format: "%.4f", double)
  }
}

import Foundation

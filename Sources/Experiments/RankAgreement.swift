/// How closely a shadow model's ranking agrees with the served one.
public enum RankAgreement {
  /// The share of the k served items that the shadow also put in its top k, k = served.count.
  /// 1 when nothing was served (the shadow missed nothing).
  public static func overlapAtK(served: UnsafeBufferPointer<Int64>, shadow: UnsafeBufferPointer<Int64>) -> Double {
    guard !served.isEmpty else { return 1 }
    let shadowTop = Set(shadow.prefix(served.count))
    let found = served.reduce(0) { $0 + (shadowTop.contains($1) ? 1 : 0) }
    return Double(found) / Double(served.count)
  }

  /// Kendall's tau-b between the two lists' orders of the items they share (each item at its
  /// first position in each list); nil when fewer than 2 items are shared. Positions never tie,
  /// so this equals tau-a: (concordant - discordant) pairs / all pairs, from -1 (reversed) to 1.
  public static func kendallTauB(served: UnsafeBufferPointer<Int64>, shadow: UnsafeBufferPointer<Int64>) -> Double? {
    var shadowPosition: [Int64: Int] = [:]
    for (position, item) in shadow.enumerated() where shadowPosition[item] == nil {
      shadowPosition[item] = position
    }
    // Shadow positions of the shared items, in served order.
    var seen = Set<Int64>()
    var order: [Int] = []
    for item in served where seen.insert(item).inserted {
      if let position = shadowPosition[item] { order.append(position) }
    }
    guard order.count >= 2 else { return nil }
    var balance = 0
    for i in 0..<order.count {
      for j in (i + 1)..<order.count {
        balance += order[i] < order[j] ? 1 : -1
      }
    }
    let pairs = order.count * (order.count - 1) / 2
    return Double(balance) / Double(pairs)
  }
}

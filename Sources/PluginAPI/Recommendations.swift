import CRecSysPlugin

/// Writes a model's answer into the host's buffers.
public struct Recommendations {
  private let raw: UnsafeMutablePointer<recsys_result>

  public init(_ raw: UnsafeMutablePointer<recsys_result>) {
    self.raw = raw
  }

  /// How many items fit (the request's top_k, or fewer).
  public var capacity: Int { raw.pointee.capacity }
  public var count: Int { raw.pointee.count }

  /// Appends the next-best item; ignored past capacity.
  public mutating func append(itemID: Int64, score: Float, propensity: Float = 1) {
    let index = raw.pointee.count
    guard index < raw.pointee.capacity else { return }
    raw.pointee.item_ids[index] = itemID
    raw.pointee.scores[index] = score
    raw.pointee.propensities[index] = propensity
    raw.pointee.count = index + 1
  }

  /// Records a candidate the catalog does not know; room exists for every candidate.
  public mutating func appendUnknown(_ itemID: Int64) {
    raw.pointee.unknown_item_ids[raw.pointee.unknown_count] = itemID
    raw.pointee.unknown_count += 1
  }
}

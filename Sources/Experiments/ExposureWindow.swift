/// The latest responses, remembered so feedback can be joined to what was served. A ring of
/// fixed capacity: each new response forgets the oldest once full.
struct ExposureWindow {
  struct Exposure {
    let requestID: String
    /// "" when no experiment took the request.
    let experiment: String
    let arm: String
    /// Counters that feedback increments; nil for forced arms and requests outside experiments.
    let slot: TallySlot?
    let itemIDs: [Int64]
    var clicked = false
    var addedToCart = false
    var purchased = false
    /// (item, kind) pairs already counted, so a repeated event counts once.
    var seen: [SeenFeedback] = []
  }

  struct SeenFeedback: Equatable {
    let itemID: Int64
    let kind: FeedbackKind
  }

  let capacity: Int
  private var ring: [Exposure] = []
  private var oldest = 0
  private var positions: [String: Int] = [:]

  init(capacity: Int) {
    precondition(capacity > 0, "ExposureWindow: capacity must be positive")
    self.capacity = capacity
    // Reserved up front so the dictionary never rehashes (milliseconds under the lock) while serving.
    ring.reserveCapacity(capacity)
    positions.reserveCapacity(capacity)
  }

  /// Adds a response; returns the one it pushed out, for the caller to free outside its lock.
  mutating func insert(_ exposure: Exposure) -> Exposure? {
    guard ring.count == capacity else {
      positions[exposure.requestID] = ring.count
      ring.append(exposure)
      return nil
    }
    let position = oldest
    let evicted = ring[position]
    // A request id served twice points at its newer response; only forget the id if it is ours.
    if positions[evicted.requestID] == position { positions[evicted.requestID] = nil }
    ring[position] = exposure
    positions[exposure.requestID] = position
    oldest = (oldest + 1) % capacity
    return evicted
  }

  func position(of requestID: String) -> Int? {
    positions[requestID]
  }

  /// Every remembered response, oldest first (for snapshots).
  var oldestFirst: [Exposure] {
    ring.count < capacity ? ring : Array(ring[oldest...] + ring[..<oldest])
  }

  subscript(position: Int) -> Exposure {
    get { ring[position] }
    _modify { yield &ring[position] }
  }
}

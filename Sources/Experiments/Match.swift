/// Which requests an experiment takes. Every condition that is set must hold; none set: all.
public struct Match: Sendable, Equatable, CustomStringConvertible {
  /// The request's surface must be one of these; empty: any surface.
  public var surfaces: [String]
  /// Inclusive bounds on the request's history length.
  public var minHistory: Int?
  public var maxHistory: Int?
  /// true: only requests without candidates (whole-catalog ranking); false: only with; nil: both.
  public var wholeCatalog: Bool?

  public init(surfaces: [String] = [], minHistory: Int? = nil, maxHistory: Int? = nil, wholeCatalog: Bool? = nil) {
    self.surfaces = surfaces
    self.minHistory = minHistory
    self.maxHistory = maxHistory
    self.wholeCatalog = wholeCatalog
  }

  /// Request path: a few comparisons, no allocation.
  public func accepts(_ traits: RequestTraits) -> Bool {
    if !surfaces.isEmpty && !surfaces.contains(traits.surface) { return false }
    if let minHistory, traits.historyCount < minHistory { return false }
    if let maxHistory, traits.historyCount > maxHistory { return false }
    if let wholeCatalog, wholeCatalog != (traits.candidateCount == 0) { return false }
    return true
  }

  /// e.g. "surface in [home, pdp]; history 1...50; with candidates", or "all requests".
  public var description: String {
    var parts: [String] = []
    if !surfaces.isEmpty { parts.append("surface in [\(surfaces.joined(separator: ", "))]") }
    switch (minHistory, maxHistory) {
    case let (low?, high?): parts.append("history \(low)...\(high)")
    case let (low?, nil): parts.append("history >= \(low)")
    case let (nil, high?): parts.append("history <= \(high)")
    case (nil, nil): break
    }
    switch wholeCatalog {
    case true?: parts.append("whole catalog (no candidates)")
    case false?: parts.append("with candidates")
    case nil: break
    }
    return parts.isEmpty ? "all requests" : parts.joined(separator: "; ")
  }
}

/// What experiment matching and assignment look at in a request.
public struct RequestTraits: Sendable {
  /// The A/B unit. Empty: the request is never enrolled (see `ExperimentSet.assign`).
  public var userID: String
  /// The page or placement asking, e.g. "home" or "pdp"; "" when the request names none.
  public var surface: String
  /// Events in the request's history.
  public var historyCount: Int
  /// Candidate items in the request; 0 asks the model to rank the whole catalog.
  public var candidateCount: Int

  public init(userID: String, surface: String = "", historyCount: Int = 0, candidateCount: Int = 0) {
    self.userID = userID
    self.surface = surface
    self.historyCount = historyCount
    self.candidateCount = candidateCount
  }
}

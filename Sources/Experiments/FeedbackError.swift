extension ExperimentLedger {
  /// Feedback that could not be joined to a served response; each message says what to fix.
  public enum FeedbackError: Error, Equatable, CustomStringConvertible {
    /// The request is not among the responses the window remembers.
    case unknownRequest(String)
    /// The request is known but the item was not in its response.
    case itemNotInResponse(String)

    public var description: String {
      switch self {
      case .unknownRequest(let message), .itemNotInResponse(let message): return message
      }
    }
  }
}

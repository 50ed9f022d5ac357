/// Errors of routing a request through the experiments.
public enum ExperimentsError: Error, Equatable, CustomStringConvertible {
  /// A forced_arm that names no experiment arm; the message lists the valid "key/arm" values.
  case invalidForcedArm(String)

  public var description: String {
    switch self {
    case .invalidForcedArm(let message): return message
    }
  }
}

import CRecSysPlugin

/// An error a model reports through the ABI: a gRPC status code and a message
/// that says what to fix.
public struct ModelError: Error, CustomStringConvertible {
  public var code: recsys_status
  public var message: String

  public init(code: recsys_status, _ message: String) {
    self.code = code
    self.message = message
  }

  /// The request or the model version is wrong in a way its author can fix.
  public static func invalidArgument(_ message: String) -> ModelError {
    ModelError(code: RECSYS_INVALID_ARGUMENT, message)
  }

  /// The caller gave up; the result is not needed.
  public static let cancelled = ModelError(code: RECSYS_CANCELLED, "the call was cancelled")

  public var description: String { message }
}

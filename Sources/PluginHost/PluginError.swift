import RecSysStatus

/// A plugin refused a call or could not be used: a status from the shared table and a message
/// that says what to fix.
public struct PluginError: Error, CustomStringConvertible {
  public var code: StatusCode
  public var message: String

  public init(code: StatusCode = .invalidArgument, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}

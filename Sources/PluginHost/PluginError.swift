import CRecSysPlugin

/// A plugin refused a call or could not be used: a gRPC status code and a message
/// that says what to fix.
public struct PluginError: Error, CustomStringConvertible {
  public var code: Int32
  public var message: String

  public init(code: Int32 = RECSYS_INVALID_ARGUMENT, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}

import CGRPCShim
import Experiments
import ModelStore
import PluginHost
import Routing
import RecSysStatus

/// An error a call ends with: a status of the shared table and a message that says what to fix.
/// The one place where Swift errors, plugin status codes and gRPC statuses meet: every service
/// (Recommend, Feedback, ModelAdmin) turns what it caught into its status through `init(_:)`.
public struct ServiceError: Error, CustomStringConvertible {
  public var code: StatusCode
  public var message: String

  public init(code: StatusCode, message: String) {
    self.code = code
    self.message = message
  }

  static func invalidArgument(_ message: String) -> ServiceError {
    ServiceError(code: .invalidArgument, message: message)
  }

  static func notFound(_ message: String) -> ServiceError {
    ServiceError(code: .notFound, message: message)
  }

  public var description: String { message }

  /// Longest message a status carries. gRPC sends it as trailing metadata, where stock clients
  /// refuse more than 8-16 KiB with RESOURCE_EXHAUSTED instead of showing the real status; the
  /// request's own fields are bounded before they are echoed, this is the backstop.
  public static let maxMessageBytes = 1_024

  /// `message`, cut to `maxMessageBytes` (at a character boundary, with its length noted).
  public var transmittedMessage: String { Excerpt.of(message, limit: Self.maxMessageBytes - 64) }
}

extension ServiceError {
  /// Maps any error thrown while serving a call to its status.
  public init(_ error: Error) {
    switch error {
    case let error as ServiceError: self = error
    // Plugin statuses were checked against the table by PluginHost (unknown ones are INTERNAL).
    case let error as PluginError: self.init(code: error.code, message: error.message)
    case let error as PluginAnswerError: self.init(code: error.status, message: error.description)
    case let error as RegistryError: self.init(code: error.code, message: error.description)
    case let error as SelectorError: self = .invalidArgument("model: \(error.description)")
    case let error as RoutingError: self = .invalidArgument(error.description)
    case let error as ExperimentLedger.FeedbackError:
      switch error {
      case .unknownRequest: self.init(code: .notFound, message: error.description)
      case .itemNotInResponse: self = .invalidArgument(error.description)
      }
    // The shared experiment state could neither be reached nor buffer the event: retry later (or elsewhere).
    case let error as ExperimentStateUnavailable: self.init(code: .unavailable, message: error.description)
    default: self.init(code: .internal, message: "internal error: \(error)")
    }
  }
}

import CGRPCShim
import Experiments
import ModelStore
import PluginHost
import Routing

/// An error a call ends with: the gRPC status and a message that says what to fix.
/// The one place where Swift errors, plugin status codes and gRPC statuses meet.
struct ServiceError: Error, CustomStringConvertible {
  var code: Int32
  var message: String

  static func invalidArgument(_ message: String) -> ServiceError {
    ServiceError(code: Int32(RS_STATUS_INVALID_ARGUMENT), message: message)
  }

  static func notFound(_ message: String) -> ServiceError {
    ServiceError(code: Int32(RS_STATUS_NOT_FOUND), message: message)
  }

  var description: String { message }

  /// Longest message a status carries. gRPC sends it as trailing metadata, where stock clients
  /// refuse more than 8-16 KiB with RESOURCE_EXHAUSTED instead of showing the real status; the
  /// request's own fields are bounded before they are echoed, this is the backstop.
  static let maxMessageBytes = 1_024

  /// `message`, cut to `maxMessageBytes` (at a character boundary, with its length noted).
  var transmittedMessage: String { Excerpt.of(message, limit: Self.maxMessageBytes - 64) }
}

extension ServiceError {
  /// Maps any error thrown while serving a call to its status.
  init(_ error: Error) {
    switch error {
    case let error as ServiceError: self = error
    // Plugins speak gRPC status numbers already.
    case let error as PluginError: self.init(code: error.code, message: error.message)
    case let error as RegistryError:
      switch error.code {
      case .notFound: self.init(code: Int32(RS_STATUS_NOT_FOUND), message: error.description)
      case .failedPrecondition: self.init(code: Int32(RS_STATUS_FAILED_PRECONDITION), message: error.description)
      case .invalidArgument: self = .invalidArgument(error.description)
      }
    case let error as SelectorError: self = .invalidArgument("model: \(error.description)")
    case let error as RoutingError: self = .invalidArgument(error.description)
    case let error as ExperimentLedger.FeedbackError:
      switch error {
      case .unknownRequest: self.init(code: Int32(RS_STATUS_NOT_FOUND), message: error.description)
      case .itemNotInResponse: self = .invalidArgument(error.description)
      }
    // The shared experiment state could neither be reached nor buffer the event: retry later (or elsewhere).
    case let error as ExperimentStateUnavailable: self.init(code: Int32(RS_STATUS_UNAVAILABLE), message: error.description)
    default: self.init(code: Int32(RS_STATUS_INTERNAL), message: "internal error: \(error)")
    }
  }
}

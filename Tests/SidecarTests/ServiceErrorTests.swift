import Experiments
import ModelStore
import PluginHost
import RecSysStatus
import Routing
import Sidecar
import XCTest

/// Every error type a call can end with, mapped to its status and message in one place.
final class ServiceErrorTests: XCTestCase {
  private struct Unexpected: Error, CustomStringConvertible { var description: String { "disk on fire" } }

  func testEachErrorTypeMapsToItsStatusAndMessage() throws {
    let selector: Error
    do { _ = try ModelSelector(parsing: "mlp@@"); XCTFail("a bad selector parsed"); return } catch { selector = error }
    let cases: [(error: Error, code: StatusCode, message: String)] = [
      (ServiceError(code: .resourceExhausted, message: "as is"), .resourceExhausted, "as is"),
      (PluginError(code: .invalidArgument, "context has 3 values"), .invalidArgument, "context has 3 values"),
      (PluginError(code: .cancelled, "stopped"), .cancelled, "stopped"),
      (PluginError(code: .failedPrecondition, "predates ABI 1.2"), .failedPrecondition, "predates ABI 1.2"),
      (PluginAnswerError(reason: .brokenPlugin, description: "model m@1 (plugin x) returned status 42"), .internal,
       "model m@1 (plugin x) returned status 42"),
      (PluginAnswerError(reason: .nonFiniteScore, description: "score inf"), .invalidArgument, "score inf"),
      (RegistryError(.notFound, "model \"x\" is not in the store"), .notFound, "model \"x\" is not in the store"),
      (RegistryError(.failedPrecondition, "cannot pin"), .failedPrecondition, "cannot pin"),
      (RegistryError(.invalidArgument, "bad label"), .invalidArgument, "bad label"),
      (selector, .invalidArgument, "model: \(selector)"),
      (RoutingError.invalidForcedArm("no arm b"), .invalidArgument, "no arm b"),
      (ExperimentLedger.FeedbackError.unknownRequest("request r is unknown"), .notFound, "request r is unknown"),
      (ExperimentLedger.FeedbackError.itemNotInResponse("item 3 was not served"), .invalidArgument, "item 3 was not served"),
      (ExperimentStateUnavailable("redis is down"), .unavailable, "redis is down"),
      (Unexpected(), .internal, "internal error: disk on fire"),
    ]
    for (error, code, message) in cases {
      let mapped = ServiceError(error)
      XCTAssertEqual(mapped.code, code, "\(type(of: error)): \(error)")
      XCTAssertEqual(mapped.message, message, "\(type(of: error))")
    }
  }

  func testALongMessageIsCutBeforeItReachesTheWire() {
    let long = ServiceError(code: .invalidArgument, message: String(repeating: "x", count: 10_000))
    XCTAssertLessThanOrEqual(long.transmittedMessage.utf8.count, ServiceError.maxMessageBytes)
    XCTAssertEqual(ServiceError(code: .notFound, message: "short").transmittedMessage, "short")
  }
}

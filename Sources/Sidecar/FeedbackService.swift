import CGRPCShim
import Experiments
import Foundation
import RecSysStatus

/// Serves Feedback: joins what a user did with a recommended item to the response that
/// showed it (the experiments' ledger), which feeds the per-arm results and Thompson arms.
/// Runs on grpc's callback threads; one short lock in the ledger.
public final class FeedbackService: @unchecked Sendable {
  /// nil when the sidecar runs no experiments: there is nothing to join feedback to.
  let ledger: ExperimentLedger?
  /// Where accepted calls are logged, if anywhere.
  let log: FeedbackLog?

  public init(ledger: ExperimentLedger?, log: FeedbackLog? = nil) {
    self.ledger = ledger
    self.log = log
  }

  func handle(_ request: rs_feedback_request, _ response: OpaquePointer) -> Int32 {
    do {
      guard let ledger else {
        throw ServiceError(code: .failedPrecondition,
                           message: "this sidecar runs no experiments (start it with --experiments): feedback has nothing to join")
      }
      guard let data = request.request_id.data, request.request_id.length > 0 else {
        throw ServiceError.invalidArgument("request_id is empty; send the request_id of the Recommend response the user acted on")
      }
      guard request.request_id.length <= RequestLimits.maxIdentifierBytes else {
        throw ServiceError.invalidArgument(
          "request_id is \(request.request_id.length) bytes; the limit is \(RequestLimits.maxIdentifierBytes): "
            + "send the request_id of the Recommend response the user acted on")
      }
      let requestID = String(decoding: UnsafeRawBufferPointer(start: data, count: request.request_id.length), as: UTF8.self)
      let kind: FeedbackKind
      switch request.type {
      case 1: kind = .click
      case 2: kind = .addToCart
      case 3: kind = .purchase
      default:
        throw ServiceError.invalidArgument(
          "type is \(request.type == 0 ? "VIEW" : String(request.type)); feedback is CLICK, ADD_TO_CART or PURCHASE "
            + "(every returned item counts as viewed)")
      }
      guard request.value.isFinite && request.value >= 0 else {
        throw ServiceError.invalidArgument("value is \(request.value); send a finite, non-negative order value (or 0)")
      }
      let joined = try ledger.recordFeedback(requestID: requestID, itemID: request.item_id, kind: kind, value: request.value)
      log?.append(FeedbackEvent(requestID: requestID, itemID: request.item_id, kind: kind, value: request.value), result: joined)
      joined.experiment.withCString { experiment in
        joined.arm.withCString { arm in
          rs_feedback_set_result(response, experiment, strlen(experiment), arm, strlen(arm), joined.duplicate)
        }
      }
      return StatusCode.ok.rawValue
    } catch {
      let failure = ServiceError(error)
      failure.transmittedMessage.withCString { rs_feedback_set_error(response, $0, strlen($0)) }
      return failure.code.rawValue
    }
  }
}

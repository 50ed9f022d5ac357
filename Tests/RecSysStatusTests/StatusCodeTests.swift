import CRecSysStatus
import RecSysStatus
import XCTest

final class StatusCodeTests: XCTestCase {
  /// recsys_status.h and the Swift table, code by code (the shim checks the C side against
  /// grpc::StatusCode at compile time).
  func testEveryCodeMatchesTheCHeader() {
    let header: [StatusCode: Int32] = [
      .ok: RECSYS_STATUS_OK, .cancelled: RECSYS_STATUS_CANCELLED, .unknown: RECSYS_STATUS_UNKNOWN,
      .invalidArgument: RECSYS_STATUS_INVALID_ARGUMENT, .deadlineExceeded: RECSYS_STATUS_DEADLINE_EXCEEDED,
      .notFound: RECSYS_STATUS_NOT_FOUND, .alreadyExists: RECSYS_STATUS_ALREADY_EXISTS,
      .permissionDenied: RECSYS_STATUS_PERMISSION_DENIED, .resourceExhausted: RECSYS_STATUS_RESOURCE_EXHAUSTED,
      .failedPrecondition: RECSYS_STATUS_FAILED_PRECONDITION, .aborted: RECSYS_STATUS_ABORTED,
      .outOfRange: RECSYS_STATUS_OUT_OF_RANGE, .unimplemented: RECSYS_STATUS_UNIMPLEMENTED,
      .internal: RECSYS_STATUS_INTERNAL, .unavailable: RECSYS_STATUS_UNAVAILABLE, .dataLoss: RECSYS_STATUS_DATA_LOSS,
      .unauthenticated: RECSYS_STATUS_UNAUTHENTICATED,
    ]
    XCTAssertEqual(Set(header.keys), Set(StatusCode.allCases), "every code in both tables")
    for (code, value) in header { XCTAssertEqual(code.rawValue, value, "\(code)") }
  }

  /// gRPC's numbering and names (doc/statuscodes.md), written out independently of the table.
  func testCodesAndNamesAreGRPCs() {
    let grpc = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]
    XCTAssertEqual(StatusCode.allCases.count, grpc.count)
    for (number, name) in grpc.enumerated() {
      XCTAssertEqual(StatusCode(rawValue: Int32(number))?.name, name)
    }
  }

  func testEveryCodeRoundTripsThroughItsNumberAndName() {
    for code in StatusCode.allCases {
      XCTAssertEqual(StatusCode(rawValue: code.rawValue), code)
      XCTAssertEqual(StatusCode(name: code.name), code)
      XCTAssertEqual(StatusCode.name(of: code.rawValue), code.name)
      XCTAssertFalse(code.defaultMessage.isEmpty, "\(code)")
    }
  }

  func testNamesAndMessagesAreUnique() {
    XCTAssertEqual(Set(StatusCode.allCases.map(\.name)).count, StatusCode.allCases.count)
    XCTAssertEqual(Set(StatusCode.allCases.map(\.defaultMessage)).count, StatusCode.allCases.count)
  }

  func testNumbersOutsideTheTableHaveNoCodeButStillAName() {
    for raw: Int32 in [-1, 17, 42, .max] {
      XCTAssertNil(StatusCode(rawValue: raw))
      XCTAssertEqual(StatusCode.name(of: raw), String(raw))
    }
    XCTAssertNil(StatusCode(name: "invalid_argument"))
  }
}

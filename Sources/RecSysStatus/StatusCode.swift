/// The sidecar's status codes: gRPC's numbering, the same table as recsys_status.h (which the
/// plugin ABI and the grpc++ shim include; StatusCodeTests keeps the two equal). Every Swift
/// place that names a status, counts one in a metric or prints one goes through here.
public enum StatusCode: Int32, CaseIterable, Sendable, CustomStringConvertible {
  case ok = 0
  case cancelled = 1
  case unknown = 2
  case invalidArgument = 3
  case deadlineExceeded = 4
  case notFound = 5
  case alreadyExists = 6
  case permissionDenied = 7
  case resourceExhausted = 8
  case failedPrecondition = 9
  case aborted = 10
  case outOfRange = 11
  case unimplemented = 12
  case `internal` = 13
  case unavailable = 14
  case dataLoss = 15
  case unauthenticated = 16

  /// gRPC's name: "INVALID_ARGUMENT".
  public var name: String {
    switch self {
    case .ok: "OK"
    case .cancelled: "CANCELLED"
    case .unknown: "UNKNOWN"
    case .invalidArgument: "INVALID_ARGUMENT"
    case .deadlineExceeded: "DEADLINE_EXCEEDED"
    case .notFound: "NOT_FOUND"
    case .alreadyExists: "ALREADY_EXISTS"
    case .permissionDenied: "PERMISSION_DENIED"
    case .resourceExhausted: "RESOURCE_EXHAUSTED"
    case .failedPrecondition: "FAILED_PRECONDITION"
    case .aborted: "ABORTED"
    case .outOfRange: "OUT_OF_RANGE"
    case .unimplemented: "UNIMPLEMENTED"
    case .internal: "INTERNAL"
    case .unavailable: "UNAVAILABLE"
    case .dataLoss: "DATA_LOSS"
    case .unauthenticated: "UNAUTHENTICATED"
    }
  }

  /// What a status means when the error that carries it says nothing more.
  public var defaultMessage: String {
    switch self {
    case .ok: "ok"
    case .cancelled: "the call was cancelled"
    case .unknown: "unknown error"
    case .invalidArgument: "the request is invalid"
    case .deadlineExceeded: "the call's deadline passed"
    case .notFound: "not found"
    case .alreadyExists: "already exists"
    case .permissionDenied: "permission denied"
    case .resourceExhausted: "out of a resource"
    case .failedPrecondition: "the sidecar is not in a state to do this"
    case .aborted: "aborted"
    case .outOfRange: "out of range"
    case .unimplemented: "not implemented"
    case .internal: "internal error"
    case .unavailable: "unavailable; retry later"
    case .dataLoss: "data lost"
    case .unauthenticated: "not authenticated"
    }
  }

  public var description: String { name }

  /// The code called `name` ("NOT_FOUND"), if any.
  public init?(name: String) {
    guard let code = Self.allCases.first(where: { $0.name == name }) else { return nil }
    self = code
  }

  /// A code's name, or its number when no status has it (a metric label must never fail).
  public static func name(of raw: Int32) -> String {
    StatusCode(rawValue: raw)?.name ?? String(raw)
  }
}

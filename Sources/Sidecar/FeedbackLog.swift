import Experiments
import Foundation

#if canImport(Glibc)
  import Glibc
#else
  import Darwin
#endif

/// The feedback log (`feedback_log`): one JSON line per accepted Feedback call, the warehouse's
/// counterpart of the exposure log. With both logs of every replica, `recsysctl experiments report
/// --exposures GLOB --feedback GLOB` recomputes the report offline.
///
/// Feedback may wait (it already may wait on Redis), so a line is written with one write(2) to an
/// O_APPEND descriptor before the call is answered: an acknowledged event is in the file even if
/// the process is killed right after. It does not rotate itself; logrotate's copytruncate works
/// (the descriptor appends).
public final class FeedbackLog: @unchecked Sendable {
  public let path: String
  private let lock = NSLock()
  private var descriptor: Int32
  private var writtenCount = 0  // under `lock`
  private var failedCount = 0  // under `lock`

  public struct OpenError: Error, CustomStringConvertible {
    public let description: String
  }

  public init(path: String) throws {
    self.path = path
    descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw OpenError(description: "cannot open feedback log \(path): \(String(cString: strerror(errno)))")
    }
  }

  deinit { if descriptor >= 0 { close(descriptor) } }

  /// One accepted call. A failed write is counted, never fails the call: the event is recorded in
  /// the experiment state either way.
  public func append(_ event: FeedbackEvent, result: ExperimentLedger.FeedbackResult, at date: Date = Date()) {
    var line: [UInt8] = []
    line.reserveCapacity(200)
    line.append(contentsOf: #"{"ts":""#.utf8)
    ExposureJSON.appendTimestamp(date, to: &line)
    line.append(contentsOf: #"","request_id":"#.utf8)
    ExposureJSON.appendString(event.requestID, to: &line)
    line.append(contentsOf: #","item_id":"#.utf8)
    line.append(contentsOf: String(event.itemID).utf8)
    line.append(contentsOf: #","type":"#.utf8)
    ExposureJSON.appendString(Self.typeName(event.kind), to: &line)
    line.append(contentsOf: #","value":"#.utf8)
    ExposureJSON.appendNumber(event.value, to: &line)
    line.append(contentsOf: #","experiment":"#.utf8)
    ExposureJSON.appendString(result.experiment, to: &line)
    line.append(contentsOf: #","arm":"#.utf8)
    ExposureJSON.appendString(result.arm, to: &line)
    line.append(contentsOf: #","duplicate":"#.utf8)
    line.append(contentsOf: (result.duplicate ? "true" : "false").utf8)
    line.append(contentsOf: "}\n".utf8)
    lock.lock()
    defer { lock.unlock() }
    let done = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    if done == line.count { writtenCount += 1 } else { failedCount += 1 }
  }

  /// The proto enum's names, as the offline report reads them.
  static func typeName(_ kind: FeedbackKind) -> String {
    switch kind {
    case .click: return "CLICK"
    case .addToCart: return "ADD_TO_CART"
    case .purchase: return "PURCHASE"
    }
  }

  public var written: Int { lock.withLock { writtenCount } }
  public var failed: Int { lock.withLock { failedCount } }
}

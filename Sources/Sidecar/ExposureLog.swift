import Foundation

#if canImport(Glibc)
  import Glibc
#else
  import Darwin
#endif

/// One served response, as the exposure log records it.
public struct Exposure: Sendable {
  public var requestID: String
  public var timestamp: Date  // wall clock when served
  public var userID: String
  public var surface: String
  public var experiment: String  // "" when no experiment routed it
  public var arm: String  // "holdout" for holdout users, "" when none
  public var bucket: Int  // -1 when no experiment
  public var armProbability: Double  // probability the arm had of being chosen (1 for fixed assignment)
  public var forced: Bool  // forced_arm QA request
  public var model: String
  public var modelVersion: Int
  public var itemIDs: [Int64]
  public var scores: [Float]
  public var propensities: [Float]
  public var shadow: String  // shadow model selector scored for this request, "" none
  public var explanations: Explanations?  // explain=true requests only
  public var salt: String  // the experiment's salt (its run), "" when none; logged only when set
  /// Set: this line is the shadow's off-policy record of the response `requestID`, not a response.
  public var offPolicy: OffPolicyRecord?

  public init(
    requestID: String, timestamp: Date, userID: String, surface: String, experiment: String, arm: String,
    bucket: Int, armProbability: Double, forced: Bool, model: String, modelVersion: Int, itemIDs: [Int64],
    scores: [Float], propensities: [Float], shadow: String, explanations: Explanations? = nil, salt: String = "",
    offPolicy: OffPolicyRecord? = nil
  ) {
    self.offPolicy = offPolicy
    self.salt = salt
    self.requestID = requestID
    self.timestamp = timestamp
    self.userID = userID
    self.surface = surface
    self.experiment = experiment
    self.arm = arm
    self.bucket = bucket
    self.armProbability = armProbability
    self.forced = forced
    self.model = model
    self.modelVersion = modelVersion
    self.itemIDs = itemIDs
    self.scores = scores
    self.propensities = propensities
    self.shadow = shadow
    self.explanations = explanations
  }
}

/// The exposure log: one JSON line per served response, for offline evaluation of what
/// users were shown and with which probability.
///
/// The request path only moves an `Exposure` into a bounded queue under a short lock; one
/// writer thread takes the whole queue at once, formats it and appends it with one write(2)
/// per batch, rotating by size. When the queue is full, the log is closed or the disk
/// refuses a write, lines are dropped and counted (`dropped`, `onDrop`): serving never
/// waits for the log.
public final class ExposureLog: @unchecked Sendable {
  public struct Settings: Sendable {
    public var path: String
    /// A line that would take the file past this starts a new file (unless the file is empty).
    public var maxFileBytes: Int
    /// Rotated files kept beside `path`: path.1 (newest) ... path.keepFiles (oldest).
    public var keepFiles: Int
    /// Exposures waiting for the writer; one more is dropped.
    public var queueCapacity: Int

    public init(path: String, maxFileBytes: Int = 64 << 20, keepFiles: Int = 5, queueCapacity: Int = 65_536) {
      self.path = path
      self.maxFileBytes = maxFileBytes
      self.keepFiles = keepFiles
      self.queueCapacity = queueCapacity
    }
  }

  public let settings: Settings
  public var path: String { settings.path }

  public struct OpenError: Error, CustomStringConvertible {
    public let description: String
  }

  private let capacity: Int
  /// Queue length at which an append wakes the writer before its interval is up.
  private let wakeThreshold: Int
  /// How long a line may wait in the queue when the log is not busy.
  static let flushInterval: TimeInterval = 0.025
  private let onDrop: (@Sendable () -> Void)?
  private let condition = NSCondition()
  // Under `condition`:
  private var pending: [Exposure] = []
  private var closing = false
  private var writerPaused: Bool
  private var writerFinished = false
  private var writtenCount: UInt64 = 0
  private var droppedCount: UInt64 = 0
  // The writer thread's own: touched by nothing else once it starts.
  private var file: LogFile
  private var spare: [Exposure] = []
  private var buffer: [UInt8] = []

  /// Opens (creates, appends to) the file; throws if its directory is missing or it is not
  /// writable. Starts one writer thread, which lives until `close()`.
  public convenience init(settings: Settings, onDrop: (@Sendable () -> Void)? = nil) throws {
    try self.init(settings: settings, onDrop: onDrop, writerPaused: false)
  }

  /// `writerPaused`: the writer takes nothing until `resumeWriter()` or `close()`, so tests
  /// can fill the queue deterministically.
  public init(settings: Settings, onDrop: (@Sendable () -> Void)?, writerPaused: Bool) throws {
    self.settings = settings
    file = try LogFile(path: settings.path, maxBytes: settings.maxFileBytes, keep: settings.keepFiles)
    capacity = max(settings.queueCapacity, 1)
    wakeThreshold = max(capacity / 4, 1)
    self.onDrop = onDrop
    self.writerPaused = writerPaused
    let thread = Thread { [self] in runWriter() }
    thread.name = "recsys.exposure-log"
    thread.start()
  }

  /// Request path: never blocks on I/O. Enqueues, or counts a drop (and calls `onDrop`) when
  /// `queueCapacity` exposures already wait or the log is closed.
  public func append(_ exposure: Exposure) {
    condition.lock()
    guard !closing, pending.count < capacity else {
      droppedCount += 1
      condition.unlock()
      onDrop?()
      return
    }
    pending.append(exposure)
    // The writer wakes by itself every `flushInterval`; a request wakes it only when the queue
    // fills to `wakeThreshold`. Waking it per request cost ~40 µs of CPU per call (two thread
    // switches) at a few thousand calls per second.
    if pending.count == wakeThreshold { condition.signal() }
    condition.unlock()
  }

  /// Lines written to disk.
  public var written: UInt64 {
    condition.lock()
    defer { condition.unlock() }
    return writtenCount
  }

  /// Exposures lost: queue full, log closed, or the write failed.
  public var dropped: UInt64 {
    condition.lock()
    defer { condition.unlock() }
    return droppedCount
  }

  /// Writes everything queued, closes the file and ends the writer thread; returns when done.
  /// Appends after this are dropped (counted). Safe to call more than once.
  public func close() {
    condition.lock()
    closing = true
    writerPaused = false
    condition.broadcast()
    while !writerFinished { condition.wait() }
    condition.unlock()
  }

  /// Lets a writer started paused take the queue.
  public func resumeWriter() {
    condition.lock()
    writerPaused = false
    condition.broadcast()
    condition.unlock()
  }

  // MARK: Writer thread

  private func runWriter() {
    while true {
      condition.lock()
      // Sleep until the interval is up, the queue reaches the threshold, or close(); a paused
      // writer sleeps until resumed.
      while writerPaused && !closing { condition.wait() }
      if !closing && pending.count < wakeThreshold {
        _ = condition.wait(until: Date(timeIntervalSinceNow: Self.flushInterval))
      }
      if pending.isEmpty || (writerPaused && !closing) {
        if closing {  // and nothing left
          file.close()
          writerFinished = true
          condition.broadcast()
          condition.unlock()
          return
        }
        condition.unlock()
        continue
      }
      // Take the whole queue; the emptied array of the last batch keeps its capacity for the next.
      swap(&pending, &spare)
      condition.unlock()

      let (written, dropped) = writeBatch(spare)
      spare.removeAll(keepingCapacity: true)

      condition.lock()
      writtenCount += written
      droppedCount += dropped
      condition.unlock()
      if let onDrop { for _ in 0..<dropped { onDrop() } }
    }
  }

  /// Formats `batch` and appends it, starting a new file before a line that would not fit
  /// (so no line is ever split across files). Returns the lines written and dropped.
  private func writeBatch(_ batch: [Exposure]) -> (written: UInt64, dropped: UInt64) {
    var written: UInt64 = 0
    var dropped: UInt64 = 0
    func flush(_ bytes: ArraySlice<UInt8>, lines: Int) {
      guard lines > 0 else { return }
      if file.append(bytes) { written += UInt64(lines) } else { dropped += UInt64(lines) }
    }
    buffer.removeAll(keepingCapacity: true)
    var lines = 0
    for exposure in batch {
      let lineStart = buffer.count
      ExposureJSON.appendLine(exposure, to: &buffer)
      if file.size + lineStart > 0 && file.size + buffer.count > file.maxBytes {
        flush(buffer[..<lineStart], lines: lines)
        file.rotate()
        buffer.removeFirst(lineStart)
        lines = 0
      }
      lines += 1
    }
    flush(buffer[...], lines: lines)
    return (written, dropped)
  }
}

/// The log file as the writer thread sees it: an O_APPEND descriptor, its size, rotation.
/// A failure here never throws past the writer: a write that fails reports false, and a file
/// that could not be reopened after rotation is retried on the next write.
private struct LogFile {
  let path: String
  let maxBytes: Int
  let keep: Int
  private var descriptor: Int32 = -1
  private(set) var size = 0

  init(path: String, maxBytes: Int, keep: Int) throws {
    self.path = path
    self.maxBytes = max(maxBytes, 1)
    self.keep = max(keep, 0)
    guard reopen() else {
      let reason = String(cString: strerror(errno))
      let directory = (path as NSString).deletingLastPathComponent
      var isDirectory: ObjCBool = false
      let hint = !directory.isEmpty && !(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
        && isDirectory.boolValue) ? " (directory \(directory) does not exist)" : ""
      throw ExposureLog.OpenError(description: "exposure log \(path): cannot open for appending: \(reason)\(hint)")
    }
  }

  /// Opens `path` for appending (creating it) and learns its size; false (errno set) if it cannot.
  private mutating func reopen() -> Bool {
    #if canImport(Glibc)
      descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    #else
      descriptor = Darwin.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    #endif
    guard descriptor >= 0 else { return false }
    var status = stat()
    size = fstat(descriptor, &status) == 0 ? Int(status.st_size) : 0
    return true
  }

  /// Appends all of `bytes` or, on failure, cuts the file back to where it was so no partial
  /// line stays behind.
  mutating func append(_ bytes: ArraySlice<UInt8>) -> Bool {
    guard descriptor >= 0 || reopen() else { return false }
    let sizeBefore = size
    var done = 0
    let ok = bytes.withUnsafeBytes { raw -> Bool in
      while done < raw.count {
        let count = write(descriptor, raw.baseAddress! + done, raw.count - done)
        if count < 0 {
          if errno == EINTR { continue }
          return false
        }
        done += count
      }
      return true
    }
    if ok {
      size += done
    } else if done > 0 {
      _ = ftruncate(descriptor, off_t(sizeBefore))
    }
    return ok
  }

  /// path.(keep-1) -> path.keep ... path -> path.1 (the oldest beyond `keep` is overwritten),
  /// then a fresh `path`.
  mutating func rotate() {
    close()
    if keep > 0 {
      for index in stride(from: keep - 1, through: 1, by: -1) {
        _ = rename("\(path).\(index)", "\(path).\(index + 1)")
      }
      _ = rename(path, "\(path).1")
    } else {
      _ = unlink(path)
    }
    _ = reopen()  // on failure the next append tries again
  }

  mutating func close() {
    guard descriptor >= 0 else { return }
    closeDescriptor(descriptor)
    descriptor = -1
  }
}

/// POSIX close, out of reach of the `close()` methods above.
private func closeDescriptor(_ descriptor: Int32) {
  _ = close(descriptor)
}

/// The JSON line of one exposure, built by hand into bytes: keys in a fixed order, no
/// Foundation encoder on the hot writer loop.
public enum ExposureJSON {
  public static func appendLine(_ exposure: Exposure, to out: inout [UInt8]) {
    if let record = exposure.offPolicy {
      return record.appendLine(requestID: exposure.requestID, timestamp: exposure.timestamp, to: &out)
    }
    out.append(contentsOf: #"{"ts":""#.utf8)
    appendTimestamp(exposure.timestamp, to: &out)
    out.append(contentsOf: #"","request_id":"#.utf8)
    appendString(exposure.requestID, to: &out)
    out.append(contentsOf: #","user_id":"#.utf8)
    appendString(exposure.userID, to: &out)
    out.append(contentsOf: #","surface":"#.utf8)
    appendString(exposure.surface, to: &out)
    out.append(contentsOf: #","experiment":"#.utf8)
    appendString(exposure.experiment, to: &out)
    out.append(contentsOf: #","arm":"#.utf8)
    appendString(exposure.arm, to: &out)
    out.append(contentsOf: #","bucket":"#.utf8)
    out.append(contentsOf: String(exposure.bucket).utf8)
    out.append(contentsOf: #","arm_probability":"#.utf8)
    appendNumber(exposure.armProbability, to: &out)
    out.append(contentsOf: #","forced":"#.utf8)
    out.append(contentsOf: (exposure.forced ? "true" : "false").utf8)
    out.append(contentsOf: #","model":"#.utf8)
    appendString("\(exposure.model)@\(exposure.modelVersion)", to: &out)
    out.append(contentsOf: #","items":"#.utf8)
    appendItems(exposure.itemIDs, to: &out)
    out.append(contentsOf: #","scores":"#.utf8)
    appendNumbers(exposure.scores, to: &out)
    out.append(contentsOf: #","propensities":"#.utf8)
    appendNumbers(exposure.propensities, to: &out)
    out.append(contentsOf: #","shadow":"#.utf8)
    appendString(exposure.shadow, to: &out)
    if let explanations = exposure.explanations {
      // "because": one list per item (same order as "items"); "attention" only for attention kinds.
      out.append(contentsOf: #","because":["#.utf8)
      for (index, events) in explanations.because.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        appendEvents(events, value: "contribution", to: &out)
      }
      out.append(UInt8(ascii: "]"))
      if !explanations.attention.isEmpty {
        out.append(contentsOf: #","attention":"#.utf8)
        appendEvents(explanations.attention, value: "weight", to: &out)
      }
    }
    if !exposure.salt.isEmpty {
      out.append(contentsOf: #","salt":"#.utf8)
      appendString(exposure.salt, to: &out)
    }
    out.append(contentsOf: "}\n".utf8)
  }

  private static let eventTypeNames = ["VIEW", "CLICK", "ADD_TO_CART", "PURCHASE"]

  /// `[{"item_id":..,"position":..,"type":"VIEW","<value>":..},...]`
  static func appendEvents(_ events: [ExplainedEvent], value: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "["))
    for (index, event) in events.enumerated() {
      if index > 0 { out.append(UInt8(ascii: ",")) }
      out.append(contentsOf: #"{"item_id":"#.utf8)
      out.append(contentsOf: String(event.itemID).utf8)
      out.append(contentsOf: #","position":"#.utf8)
      out.append(contentsOf: String(event.position).utf8)
      out.append(contentsOf: #","type":"#.utf8)
      appendString(eventTypeNames.indices.contains(Int(event.type)) ? eventTypeNames[Int(event.type)] : "\(event.type)",
                   to: &out)
      out.append(contentsOf: #",""#.utf8)
      out.append(contentsOf: value.utf8)
      out.append(contentsOf: #"":"#.utf8)
      appendNumber(event.value, to: &out)
      out.append(UInt8(ascii: "}"))
    }
    out.append(UInt8(ascii: "]"))
  }

  private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

  /// RFC 8259: quote and backslash escaped, control characters as \n, \r, \t or \u00XX;
  /// everything else (non-ASCII included) passes as UTF-8.
  /// `[1,2,3]`
  static func appendItems(_ items: [Int64], to out: inout [UInt8]) {
    out.append(UInt8(ascii: "["))
    for (index, item) in items.enumerated() {
      if index > 0 { out.append(UInt8(ascii: ",")) }
      out.append(contentsOf: String(item).utf8)
    }
    out.append(UInt8(ascii: "]"))
  }

  static func appendString(_ string: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in string.utf8 {
      switch byte {
      case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
      case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
      case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
      case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
      case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
      case 0..<0x20:
        out.append(contentsOf: #"\u00"#.utf8)
        out.append(contentsOf: [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xf)]])
      default: out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
  }

  /// Shortest round-trip form (Swift's `description`); JSON has no NaN or infinity, so null.
  static func appendNumber<Number: BinaryFloatingPoint & LosslessStringConvertible>(
    _ value: Number, to out: inout [UInt8]
  ) {
    out.append(contentsOf: (value.isFinite ? value.description : "null").utf8)
  }

  static func appendNumbers(_ values: [Float], to out: inout [UInt8]) {
    out.append(UInt8(ascii: "["))
    for (index, value) in values.enumerated() {
      if index > 0 { out.append(UInt8(ascii: ",")) }
      appendNumber(value, to: &out)
    }
    out.append(UInt8(ascii: "]"))
  }

  /// RFC 3339 UTC with milliseconds, e.g. 2026-11-23T16:18:12.188Z. By hand: DateFormatter
  /// is slow, and the civil date follows from the day count alone (UTC has no leap seconds
  /// in Unix time).
  public static func appendTimestamp(_ date: Date, to out: inout [UInt8]) {
    // Date counts from 2001 in a Double, which rounds x.188 s to x.18799999...: settle on the
    // nearest microsecond first, so the millisecond is not truncated one short.
    // Clamped (to about ±8000 years around 2001) so a nonsense Date cannot trap the writer.
    let sinceReference = (date.timeIntervalSinceReferenceDate * 1_000_000).rounded()
    let microseconds = Int64(sinceReference.isNaN ? 0 : min(max(sinceReference, -2.5e17), 2.5e17))
      + 978_307_200_000_000
    let milliseconds = microseconds.floorDivided(by: 1000).quotient
    let (days, millisecondOfDay) = milliseconds.floorDivided(by: 86_400_000)
    let (year, month, day) = civilDate(daysSince1970: days)
    let secondOfDay = millisecondOfDay / 1000
    func digits(_ value: Int64, _ width: Int) {
      let text = String(value)
      out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, width - text.utf8.count)))
      out.append(contentsOf: text.utf8)
    }
    digits(year, 4)
    out.append(UInt8(ascii: "-"))
    digits(month, 2)
    out.append(UInt8(ascii: "-"))
    digits(day, 2)
    out.append(UInt8(ascii: "T"))
    digits(secondOfDay / 3600, 2)
    out.append(UInt8(ascii: ":"))
    digits(secondOfDay / 60 % 60, 2)
    out.append(UInt8(ascii: ":"))
    digits(secondOfDay % 60, 2)
    out.append(UInt8(ascii: "."))
    digits(millisecondOfDay % 1000, 3)
    out.append(UInt8(ascii: "Z"))
  }

  /// Proleptic Gregorian date of a day count (Howard Hinnant's civil_from_days).
  static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let (era, dayOfEra) = (days + 719_468).floorDivided(by: 146_097)
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153  // March = 0
    let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
    let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return (year, month, day)
  }
}

extension Int64 {
  /// Quotient rounded toward minus infinity and a remainder in 0..<divisor (dates before 1970).
  fileprivate func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
    let remainder = self % divisor
    return remainder < 0 ? (self / divisor - 1, remainder + divisor) : (self / divisor, remainder)
  }
}

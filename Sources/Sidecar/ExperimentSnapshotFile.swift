import Experiments
import Foundation
import Logging

/// `experiment_state: file:PATH`: the ledger of a single instance, kept across restarts. Read once
/// at start (before anything is served), written every `interval` when something changed and at
/// shutdown, each time to PATH.tmp then renamed over PATH, so a crash mid-write leaves the previous
/// snapshot whole. A kill (SIGKILL, OOM) loses what happened since the last write.
public final class ExperimentSnapshotFile: @unchecked Sendable {
  public let path: String
  private let ledger: ExperimentLedger
  private let logger: Logger
  private let queue = DispatchQueue(label: "recsys.experiment-snapshot")
  private var timer: DispatchSourceTimer?
  private let lock = NSLock()
  private var health = ExperimentStateStatus()  // under `lock`
  private var lastWritten: LedgerSnapshot?  // on `queue`

  public init(path: String, ledger: ExperimentLedger, logger: Logger) {
    self.path = path
    self.ledger = ledger
    self.logger = logger
    health.kind = "file"
    health.address = path
  }

  /// Restores the snapshot at `path`, if there is one. A file that cannot be read as a snapshot is
  /// moved aside (PATH.unreadable) and the instance starts from zero, saying so.
  public func restore() {
    guard FileManager.default.fileExists(atPath: path) else { return }
    do {
      let snapshot = try JSONDecoder().decode(LedgerSnapshot.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
      try ledger.restore(snapshot)
      lastWritten = snapshot
      logger.info("experiment results restored", metadata: [
        "path": "\(path)", "runs": "\(snapshot.runs.count)", "window": "\(snapshot.window.count)",
      ])
    } catch {
      let aside = path + ".unreadable"
      try? FileManager.default.removeItem(atPath: aside)
      try? FileManager.default.moveItem(atPath: path, toPath: aside)
      lock.withLock { health.lastError = "\(error)" }
      logger.error("experiment snapshot unreadable; moved aside, results start from zero", metadata: [
        "path": "\(path)", "moved_to": "\(aside)", "error": "\(error)",
      ])
    }
  }

  public func start(every interval: Duration) {
    let timer = DispatchSource.makeTimerSource(queue: queue)
    let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
    timer.schedule(deadline: .now() + seconds, repeating: seconds, leeway: .milliseconds(100))
    timer.setEventHandler { [weak self] in self?.write() }
    timer.resume()
    queue.sync { self.timer = timer }
  }

  /// Stops the timer and writes the final snapshot.
  public func stop() {
    queue.sync {
      timer?.cancel()
      timer = nil
      write()
    }
  }

  public var status: ExperimentStateStatus { lock.withLock { health } }

  /// On `queue`.
  private func write() {
    let snapshot = ledger.snapshot()
    guard snapshot != lastWritten else { return }
    do {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      let data = try encoder.encode(snapshot)
      let staging = path + ".tmp"
      try data.write(to: URL(fileURLWithPath: staging))
      guard rename(staging, path) == 0 else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "rename failed: errno \(errno)"])
      }
      lastWritten = snapshot
      lock.withLock {
        health.reachable = true
        health.lastError = ""
        health.flushes += 1
      }
    } catch {
      let wasReachable = lock.withLock { () -> Bool in
        defer {
          health.reachable = false
          health.lastError = "\(error)"
        }
        return health.reachable
      }
      if wasReachable {
        logger.error("cannot write the experiment snapshot", metadata: ["path": "\(path)", "error": "\(error)"])
      }
    }
  }
}

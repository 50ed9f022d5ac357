import CGRPCShim
import Foundation
import ModelStore
import OffPolicy
import RecSysStatus

/// ModelAdmin/EvaluateCandidate: `recsysctl experiments evaluate` on this sidecar's own logs.
extension AdminService {
  func evaluateCandidate(_ candidate: String) throws -> [String: Any] {
    let selector = try? ModelSelector(parsing: candidate)
    switch selector?.version {
    case .serving?, .number?: break
    default:
      throw ServiceError(code: .invalidArgument,
                         message: "candidate \"\(candidate)\" must be MODEL or MODEL@VERSION (a number), as the "
                           + "experiment's shadow model served, e.g. \"popularity\" or \"popularity@3\"")
    }
    guard let exposureLog, let feedbackLogPath else {
      throw ServiceError(code: .failedPrecondition,
                         message: "EvaluateCandidate reads this sidecar's exposure and feedback logs: start it with "
                           + "exposure_log and feedback_log set (and an experiment with shadow and ope_sample_percent)")
    }
    // Rotated files oldest first (path.keep ... path.1), then the live one.
    let settings = exposureLog.settings
    let rotated = stride(from: settings.keepFiles, through: 1, by: -1).map { "\(settings.path).\($0)" }
    let exposureFiles = (rotated + [settings.path]).filter { FileManager.default.fileExists(atPath: $0) }
    do {
      return try OffPolicyReport.make(
        exposureFiles: exposureFiles, feedbackFiles: [feedbackLogPath], candidate: candidate)
    } catch {
      throw ServiceError(code: .failedPrecondition, message: "cannot read the logs: \(error)")
    }
  }
}

import Foundation
import OffPolicy

/// The logs `recsysctl experiments evaluate` and ModelAdmin/EvaluateCandidate read: the bytes up
/// to the first NUL are exposure-log lines (responses and the shadow's "ope" records), the rest
/// feedback-log lines. They are joined for two candidates and evaluated (a short bootstrap):
/// whatever the lines hold (huge ids, propensities out of range, rankings that do not fit the
/// slate), the result is a report or a skipped line, never a crash or a non-finite estimate.
enum OffPolicyLogsTarget {
  static let target = FuzzTarget(
    name: "ope-logs",
    summary: "exposure + feedback JSON lines: OffPolicyLogs join, EpsilonGreedyMarginals, estimators, bootstrap"
  ) { bytes in
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let exposures = Data(bytes[..<split])
    let feedback = split < bytes.count ? Data(bytes[(split + 1)...]) : Data()
    var logs = OffPolicyLogs(exposureLines: exposures, feedbackLines: feedback)
    for candidate in ["popularity", "candidate@2"] {
      for group in logs.groups(candidate: candidate) {
        let evaluation = Evaluation(slates: group.slates, bootstrap: Bootstrap(resamples: 20))
        for estimate in [evaluation.observed, evaluation.inverseProbabilityWeighting, evaluation.selfNormalized,
                         evaluation.doublyRobust] {
          guard let estimate else { continue }
          precondition(estimate.value.isFinite && estimate.low.isFinite && estimate.high.isFinite,
                       "a non-finite estimate")
        }
      }
    }
  }
}

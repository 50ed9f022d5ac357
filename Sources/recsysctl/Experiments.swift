import ArgumentParser
import Experiments
import Foundation
import OffPolicy

/// `recsysctl experiments show | report | reload`: the A/B experiments file that serves and its results.
/// `action` is an argument rather than a subcommand so that admin options may come before or after it.
extension RecsysCtl {
  struct Experiments: ParsableCommand {
    enum Action: String, ExpressibleByArgument, CaseIterable {
      case show, report, reload, evaluate
    }

    static let configuration = CommandConfiguration(
      abstract: "A/B experiments: show the config that serves, report per-arm results, reload the file.",
      usage: "recsysctl experiments show|report|reload [--json] [--admin <address>] [--token <token>] "
        + "[--token-file <file>]\n       recsysctl experiments evaluate --candidate MODEL[@V] "
        + "[--exposures GLOB --feedback GLOB] [--json]",
      discussion: """
        show: the experiments file that serves (path, sha256, the last refused change), the default model, and per \
        experiment its salt, mode, match, holdout, arms (control first) and shadow model.

        report: per experiment and arm, impressions, clicks, CTR and CVR with 95 % Wilson intervals, revenue per \
        impression, traffic share, serving probability (thompson), and z and p of a two-proportion z-test against \
        the control (* marks p < 0.05); then the shadow model's agreement with the served lists, the exposure-log \
        counters and the feedback that joined no exposure.

        reload: reads the experiments file now and shows what serves. An invalid file is refused (exit code 1, \
        FAILED_PRECONDITION with the reason) and the config that served before keeps serving.

        report --exposures GLOB --feedback GLOB computes the report offline from the exposure and feedback logs of \
        any number of replicas (quote the globs), without a sidecar; --experiments FILE gives the arms' order, \
        control and models.

        evaluate --candidate MODEL[@V]: off-policy evaluation of a candidate model (an experiment's shadow, logged \
        with ope_sample_rate) from the exposure and feedback logs: per logging policy, the candidate's item CTR by \
        IPS, self-normalised IPS and doubly robust with bootstrap 95 % intervals, beside the policy's own observed \
        CTR on the same requests, and the effective sample size; no estimate, and a warning, where the candidate \
        shows items the logging policy could not show (missing support). With --exposures and --feedback it reads \
        those logs; without, the sidecar evaluates its own exposure and feedback logs (ModelAdmin/EvaluateCandidate).

        --json prints the ExperimentsStatus (EvaluateCandidateResponse for evaluate) as proto3 JSON instead.
        """)

    @OptionGroup var options: AdminOptions
    @Argument(help: "show, report or reload.") var action: Action = .show
    @Option(help: "report offline: exposure logs (a glob).") var exposures: String?
    @Option(help: "report offline: feedback logs (a glob).") var feedback: String?
    @Option(help: "report offline: the experiments file (arm order, control, models).") var experiments: String?
    @Option(help: "evaluate: the candidate model, MODEL or MODEL@VERSION.") var candidate: String?

    func run() throws {
      if action == .evaluate {
        return try evaluate()
      }
      if exposures != nil || feedback != nil {
        return try runOffline()
      }
      let status = try options.send(action == .reload ? "ReloadExperiments" : "GetExperiments")
      guard !options.json else { return }
      let view = ExperimentsView(status)
      switch action {
      case .show, .reload: print(view.config(), terminator: "")
      case .report, .evaluate: print(view.report(), terminator: "")
      }
    }

    private func evaluate() throws {
      guard let candidate, !candidate.isEmpty else {
        throw ValidationError("evaluate needs --candidate MODEL or MODEL@VERSION (an experiment's shadow model)")
      }
      if exposures != nil || feedback != nil {
        guard let exposures, let feedback else { throw ValidationError("--exposures and --feedback go together") }
        let report = try offline {
          try OffPolicyReport.make(
            exposureFiles: LogFiles.files(exposures), feedbackFiles: LogFiles.files(feedback), candidate: candidate)
        }
        if !options.json { print(OffPolicyView(report).text(), terminator: "") }
      } else {
        let report = try options.send("EvaluateCandidate", ["candidate": candidate])
        if !options.json { print(OffPolicyView(report).text(), terminator: "") }
      }
    }

    /// Computes a report from log files: a failure is exit code 1 with the reason; --json prints the result.
    private func offline(_ compute: () throws -> [String: Any]) throws -> [String: Any] {
      let result: [String: Any]
      do {
        result = try compute()
      } catch {
        FileHandle.standardError.write(Data("recsysctl: \(error)\n".utf8))
        throw ExitCode(1)
      }
      if options.json {
        let data = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
      }
      return result
    }

    private func runOffline() throws {
      guard action == .report, let exposures, let feedback else {
        throw ValidationError("--exposures and --feedback go together, with the report action")
      }
      let status = try offline {
        let config = try experiments.map { try ExperimentsConfig(yaml: String(contentsOfFile: $0, encoding: .utf8), source: $0) }
        return try OfflineReport(exposures: exposures, feedback: feedback).status(config: config)
      }
      if !options.json { print(ExperimentsView(status).report(), terminator: "") }
    }
  }
}

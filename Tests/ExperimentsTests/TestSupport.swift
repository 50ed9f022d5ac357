import XCTest

import Experiments

/// Parses a config (failing the test on a parse error) and builds the live set over `ledger`.
func experimentSet(_ yaml: String, ledger: ExperimentLedger = ExperimentLedger()) throws -> ExperimentSet {
  ExperimentSet(config: try ExperimentsConfig(yaml: yaml, source: "test.yaml"), ledger: ledger)
}

/// A one-experiment config; `arms` is the YAML list of arms.
func singleExperiment(
  key: String = "exp", salt: String = "s1", holdout: Double = 0, extra: String = "", arms: String
) -> String {
  """
  default_model: mlp
  experiments:
    - key: \(key)
      salt: "\(salt)"
      holdout: \(holdout)
  \(extra)
      arms: \(arms)
  """
}

func fixedArms(_ weights: [Double]) -> String {
  "[" + weights.enumerated().map { "{name: arm\($0), model: mlp@\($0 + 1), weight: \($1)}" }.joined(separator: ", ")
    + "]"
}

let userCount = 100_000

func users() -> [String] {
  (1...userCount).map { "user-\($0)" }
}

/// The arm (or "holdout") each user gets; nil entries where no experiment took them.
func armsOf(_ set: ExperimentSet, _ users: [String]) -> [String?] {
  users.map { set.assign(RequestTraits(userID: $0), seed: 0)?.armName }
}

/// Records an exposure of `items` for a request.
func expose(_ ledger: ExperimentLedger, _ requestID: String, _ assignment: Assignment?, items: [Int64] = [1, 2, 3]) {
  items.withUnsafeBufferPointer { ledger.recordExposure(requestID: requestID, assignment: assignment, itemIDs: $0) }
}

/// Expects the config to be refused with a message containing every phrase.
func assertRejected(
  _ yaml: String, mentioning phrases: [String], file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertThrowsError(try ExperimentsConfig(yaml: yaml, source: "conf/experiments.yaml"), file: file, line: line) {
    error in
    guard let error = error as? ExperimentsConfigError else {
      return XCTFail("unexpected error type \(error)", file: file, line: line)
    }
    let message = error.description
    XCTAssertTrue(message.hasPrefix("conf/experiments.yaml"), message, file: file, line: line)
    for phrase in phrases {
      XCTAssertTrue(message.contains(phrase), "\"\(phrase)\" not in: \(message)", file: file, line: line)
    }
  }
}

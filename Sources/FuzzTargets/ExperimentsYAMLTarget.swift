import Experiments
import ModelStore

/// The experiments file as the sidecar reads it: `ExperimentsConfig(yaml:)` (which runs
/// `YAMLGuard` before Yams composes anything), then model validation against a fixed set of
/// models instead of a registry. Every input must be loaded or refused in well under a second,
/// with a message that does not grow with the input.
enum ExperimentsYAMLTarget {
  /// The models a fake store serves: the demo's, with versions 7 and 8 of mlp and a label.
  static let served: [String: Set<String>] = [
    "mlp": ["", "7", "8", "stable"], "lstm": [""], "sasrec": [""], "popularity": [""],
  ]

  static let target = FuzzTarget(
    name: "experiments-yaml",
    summary: "experiments file: YAMLGuard, ExperimentsConfig(yaml:), validateModels against fixed models"
  ) { bytes in
    let text = String(decoding: bytes, as: UTF8.self)
    do {
      let config = try ExperimentsConfig(yaml: text, source: "fuzz.yaml")
      try config.validateModels(problem)
    } catch let error as ExperimentsConfigError {
      // A refusal is expected; it must stay small whatever the input.
      precondition(error.description.utf8.count <= Excerpt.messageBytes + 600, "refusal grew with the input")
    } catch {
      preconditionFailure("ExperimentsConfig threw something other than ExperimentsConfigError: \(error)")
    }
  }

  static func problem(_ selector: ModelSelector) -> String? {
    guard let versions = served[selector.model] else { return "no such model in the store" }
    let version: String
    switch selector.version {
    case .serving: version = ""
    case .number(let number): version = String(number)
    case .label(let label): version = label
    }
    return versions.contains(version) ? nil : "not loaded"
  }
}

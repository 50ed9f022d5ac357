import Experiments
import Foundation
import Logging
import ModelStore
import PluginHost
import Routing
import Sidecar

/// `recommend-request`: the bytes are a serialized RecommendRequest, run through the shim's
/// parser, the request view, validation, routing (with two experiments, one Thompson) and the
/// real plugins scoring the golden fixtures (mlp, lstm, sasrec, dqn): everything a call does
/// between the transport and its answer. Any status is fine; a crash, a hang or an answer
/// that breaks the status contract (below) is not.
public enum RecommendRequestTarget {
  static let target = FuzzTarget(
    name: "recommend-request",
    summary: "serialized RecommendRequest -> shim parse -> validation -> routing -> plugins"
  ) { bytes in
    let (code, message) = service.handleSerialized(bytes)
    // Statuses a client may see from Recommend; INTERNAL would be our own bug.
    let allowed: Set<Int32> = [0, 1, 3, 4, 5, 9]
    precondition(allowed.contains(code), "Recommend answered status \(code): \(message)")
    precondition(message.utf8.count <= 1_100, "a status message of \(message.utf8.count) bytes")
  }

  /// The status and message the fuzzed service answers `bytes` with (for tests of the target).
  public static func answer(_ bytes: [UInt8]) -> (code: Int32, message: String) {
    bytes.withUnsafeBytes { service.handleSerialized($0) }
  }

  /// Built once per process: a store of links to the golden fixtures, the plugins, experiments.
  static let service: RecommendService = {
    let root = FuzzEnvironment.makeTemporaryDirectory("recsys-fuzz-store")
    let golden = FuzzEnvironment.repositoryRoot + "/Tests/Fixtures/golden"
    for kind in ["mlp", "lstm", "sasrec", "dqn"] {
      try! FileManager.default.createDirectory(atPath: "\(root)/store/\(kind)", withIntermediateDirectories: true)
      try! FileManager.default.createSymbolicLink(atPath: "\(root)/store/\(kind)/1", withDestinationPath: "\(golden)/\(kind)/model/1")
    }
    var logger = Logger(label: "recsys-fuzz")
    logger.logLevel = .critical
    let plugins = PluginSet.load(directory: FuzzEnvironment.pluginsDirectory, logger: logger)
    precondition(plugins.byKind.count >= 4, "no plugins in \(FuzzEnvironment.pluginsDirectory): run make build first")
    let registry = ModelRegistry(storePath: "\(root)/store", plugins: plugins, logger: logger)
    registry.reload(retryFailed: false)
    let router = Router(defaultModel: ModelSelector(model: "mlp"))
    let experimentsPath = "\(root)/experiments.yaml"
    try! experimentsYAML.write(toFile: experimentsPath, atomically: true, encoding: .utf8)
    let experiments = ExperimentsFile(path: experimentsPath, router: router, registry: registry,
                                      ledger: ExperimentLedger(windowCapacity: 1_000), logger: logger)
    try! experiments.reload()
    // A named item set, so requests' exclude_item_sets reach the plugins' filters too.
    let itemSets = ItemSetRegistry()
    try! itemSets.replace(name: "out_of_stock", itemIDs: (0..<64).map { Int64($0 * 3) })
    return RecommendService(router: router, registry: registry, limits: RequestLimits(), logger: logger,
                            ledger: experiments.ledger, itemSets: itemSets)
  }()

  static let experimentsYAML = """
    default_model: mlp
    experiments:
      - key: home-sequence
        salt: "fuzz"
        match: {surface: home, whole_catalog: true, min_history: 1}
        arms:
          - {name: lstm, model: lstm, weight: 50}
          - {name: sasrec, model: sasrec, weight: 50}
      - key: pdp-ranker
        salt: "fuzz"
        match: {surface: pdp}
        holdout: 10
        mode: thompson
        min_share: 10
        arms:
          - {name: control, model: mlp}
          - {name: dqn, model: dqn}

    """
}

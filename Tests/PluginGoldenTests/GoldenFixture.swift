import CRecSysPlugin
import Foundation
import Logging
import ModelStore
import PluginHost
import SafeTensors
import XCTest

/// One golden fixture written by tools/make_fixtures.py from the PyTorch reference:
/// a one-model store plus request cases with the scores PyTorch computed.
struct GoldenFixture {
  struct Case: Decodable {
    struct Expected: Decodable {
      var scores: [Float?]
      var unknown_item_ids: [Int64]
      var top_item_ids: [Int64]
      var top_scores: [Float]
      var top_propensities: [Float]?
    }

    var name: String
    var history_item_ids: [Int64]
    var history_types: [Int32]
    var candidate_item_ids: [Int64]
    var candidate_features: [Float]
    var context: [Float]
    var top_k: Int
    var exclude_history: Bool
    var expected: Expected
  }

  /// What the model returned for one request.
  typealias Answer = ModelAnswer

  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Fixtures/golden").standardized

  /// Plugins as `make` installs them (RECSYS_PLUGINS_DIR), or the default build's folder.
  static let plugins: PluginSet = {
    let directory = ProcessInfo.processInfo.environment["RECSYS_PLUGINS_DIR"]
      ?? root.appendingPathComponent("../../../.build/plugins").standardized.path
    return PluginSet.load(directory: directory, logger: Logger(label: "golden-tests"))
  }()

  let name: String
  let model: ServingModel
  let cases: [Case]
  let catalogItemIDs: [Int64]
  let manifest: ModelManifest

  /// Loads the fixture's model through the real store + plugin path.
  init(_ name: String) throws {
    self.name = name
    let store = Self.root.appendingPathComponent(name)
    let registry = ModelRegistry(storePath: store.path, plugins: Self.plugins, logger: Logger(label: "golden-tests"))
    registry.reload(retryFailed: false)
    model = try registry.resolve(ModelSelector(model: "model"))
    let version = store.appendingPathComponent("model/1")
    manifest = try ModelManifest(contentsOf: version.appendingPathComponent("model.json").path)
    let weights = try SafeTensorsFile(path: version.appendingPathComponent("weights.safetensors").path)
    catalogItemIDs = Array(weights.tensor(named: "item_ids")!.int64s)
    cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: store.appendingPathComponent("cases.json")))
  }

  /// Runs one request through the plugin's C entry point.
  func recommend(
    _ request: Case, topK: Int? = nil, excludeHistory: Bool? = nil, seed: UInt64 = 1,
    cancelled: UnsafeMutablePointer<Int32>? = nil
  ) throws -> Answer {
    try model.instance.recommend(
      ModelRequest(
        historyItemIDs: request.history_item_ids, historyTypes: request.history_types,
        candidateItemIDs: request.candidate_item_ids, candidateFeatures: request.candidate_features,
        context: request.context, topK: topK ?? request.top_k,
        excludeHistory: excludeHistory ?? request.exclude_history, seed: seed),
      cancelled: cancelled.map { UnsafePointer($0) })
  }

  /// Checks every case: the returned list exactly (ids, order, unknowns), scores to
  /// `tolerance`, and then every expected score, by asking for all items at once.
  /// Returns the largest absolute score error seen.
  @discardableResult
  func checkAllCases(tolerance: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) throws -> Float {
    var worst: Float = 0
    XCTAssertFalse(cases.isEmpty, "\(name): no cases", file: file, line: line)
    for request in cases {
      let label = "\(name)/\(request.name)"
      if let reason = expectedRejection(request) {
        XCTAssertThrowsError(try recommend(request), "\(label): \(reason)", file: file, line: line) { error in
          XCTAssertEqual((error as? PluginError)?.code, RECSYS_INVALID_ARGUMENT, "\(label): \(error)", file: file, line: line)
        }
        continue
      }
      let answer = try recommend(request)
      XCTAssertEqual(answer.itemIDs, request.expected.top_item_ids, "\(label): top items", file: file, line: line)
      XCTAssertEqual(answer.unknownItemIDs, request.expected.unknown_item_ids, "\(label): unknown items", file: file, line: line)
      for (got, want) in zip(answer.scores, request.expected.top_scores) {
        worst = max(worst, abs(got - want))
        XCTAssertEqual(got, want, accuracy: tolerance, "\(label): top score", file: file, line: line)
      }
      if let propensities = request.expected.top_propensities {
        XCTAssertEqual(answer.propensities, Array(propensities.prefix(answer.propensities.count)), "\(label): propensities",
                       file: file, line: line)
      }
      worst = max(worst, try checkEveryScore(request, label: label, tolerance: tolerance, file: file, line: line))
    }
    return worst
  }

  /// Asks for every scored item (no exclusion) and compares each with PyTorch's score.
  private func checkEveryScore(_ request: Case, label: String, tolerance: Float, file: StaticString, line: UInt) throws -> Float {
    let itemOfEntry = request.candidate_item_ids.isEmpty ? catalogItemIDs : request.candidate_item_ids
    let scored = request.expected.scores.compactMap { $0 }.count
    guard scored > 0 else { return 0 }
    let answer = try recommend(request, topK: scored, excludeHistory: false)
    let scoreOf = Dictionary(zip(answer.itemIDs, answer.scores), uniquingKeysWith: { first, _ in first })
    var worst: Float = 0
    for (entry, expected) in request.expected.scores.enumerated() {
      guard let expected else { continue }
      guard let got = scoreOf[itemOfEntry[entry]] else {
        XCTFail("\(label): item \(itemOfEntry[entry]) was not scored", file: file, line: line)
        continue
      }
      worst = max(worst, abs(got - expected))
      XCTAssertEqual(got, expected, accuracy: tolerance, "\(label): score of item \(itemOfEntry[entry])", file: file, line: line)
    }
    return worst
  }

  /// The sidecar refuses to guess missing inputs: an empty context or feature list
  /// where the model takes some is an error, not zeros (the reference pads zeros).
  private func expectedRejection(_ request: Case) -> String? {
    let contextDimension = (try? manifest.integer("context_dim", default: 0)) ?? 0
    let featureDimension = (try? manifest.integer("candidate_feature_dim", default: 0)) ?? 0
    if request.context.isEmpty && contextDimension > 0 { return "an empty context must be refused" }
    if request.candidate_features.isEmpty && featureDimension > 0 && !request.candidate_item_ids.isEmpty {
      return "empty candidate_features must be refused"
    }
    return nil
  }

  /// A request whose cancel flag is already set fails with RECSYS_CANCELLED (the sequence kinds
  /// poll it in the LSTM time loop, between transformer blocks and between blocks of the
  /// whole-catalog GEMV), with and without history, with and without candidates; the same fixture
  /// then still answers normally.
  func checkCancelledCallsStop(file: StaticString = #filePath, line: UInt = #line) throws {
    var flag: Int32 = 1
    for request in cases where expectedRejection(request) == nil {
      XCTAssertThrowsError(try recommend(request, cancelled: &flag), "\(name)/\(request.name)", file: file, line: line) {
        error in
        XCTAssertEqual((error as? PluginError)?.code, RECSYS_CANCELLED, "\(error)", file: file, line: line)
      }
    }
    flag = 0
    let request = try XCTUnwrap(cases.first { expectedRejection($0) == nil }, file: file, line: line)
    XCTAssertEqual(try recommend(request, cancelled: &flag).itemIDs, request.expected.top_item_ids, file: file, line: line)
  }
}

import RecSysStatus
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
      var explanation: ExpectedExplanation?
    }

    /// tools/recsys_ref/explain.py: occlusion per returned item and kept history position.
    struct ExpectedExplanation: Decodable {
      var positions: [Int]
      var contributions: [[Float]]  // [top item][k-th kept position]
      var attention: [Float]?  // sasrec: per kept position
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

  /// Loads the fixture's model through the real store + plugin path. With `manifestChanges`, from a
  /// temporary copy of the fixture whose model.json has those keys set (the weights are the same,
  /// so PyTorch's expected scores still hold).
  init(_ name: String, manifestChanges: [String: Any] = [:]) throws {
    self.name = name
    let store = manifestChanges.isEmpty ? Self.root.appendingPathComponent(name)
      : try Self.copy(of: name, manifestChanges: manifestChanges)
    let registry = ModelRegistry(storePath: store.path, plugins: Self.plugins, logger: Logger(label: "golden-tests"))
    registry.reload(retryFailed: false)
    model = try registry.resolve(ModelSelector(model: "model"))
    let version = store.appendingPathComponent("model/1")
    manifest = try ModelManifest(contentsOf: version.appendingPathComponent("model.json").path)
    let weights = try SafeTensorsFile(path: version.appendingPathComponent("weights.safetensors").path)
    catalogItemIDs = Array(weights.tensor(named: "item_ids")!.int64s)
    cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: store.appendingPathComponent("cases.json")))
  }

  /// A copy of fixture `name` in a temporary folder, with model.json's `changes` applied.
  private static func copy(of name: String, manifestChanges changes: [String: Any]) throws -> URL {
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("golden-\(name)-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: root.appendingPathComponent(name), to: copy)
    let manifestURL = copy.appendingPathComponent("model/1/model.json")
    var manifest = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [String: Any], "\(name)'s model.json")
    manifest.merge(changes) { _, new in new }
    try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]).write(to: manifestURL)
    return copy
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
          XCTAssertEqual((error as? PluginError)?.code, .invalidArgument, "\(label): \(error)", file: file, line: line)
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

  /// Checks the plugin's explanations of every case's returned items against the PyTorch
  /// occlusion (and, with `attention`, nn.MultiheadAttention's weights): every kept position to
  /// `tolerance`, NaN everywhere else, and the because selection consistent with PyTorch's values.
  /// Returns the largest absolute error.
  @discardableResult
  func checkExplanations(attention: Bool, tolerance: Float = 1e-4, file: StaticString = #filePath,
                         line: UInt = #line) throws -> Float {
    var worst: Float = 0
    var checked = 0
    for request in cases where expectedRejection(request) == nil {
      let label = "\(name)/\(request.name)"
      let expected = try XCTUnwrap(request.expected.explanation, "\(label): no expected explanation", file: file, line: line)
      let items = request.expected.top_item_ids
      let modelRequest = ModelRequest(
        historyItemIDs: request.history_item_ids, historyTypes: request.history_types,
        candidateItemIDs: request.candidate_item_ids, candidateFeatures: request.candidate_features,
        context: request.context, topK: request.top_k, excludeHistory: request.exclude_history)
      let (contributions, weights) = try model.instance.explain(modelRequest, items: items)
      let kept = Set(expected.positions)
      for (item, row) in contributions.enumerated() {
        for (k, position) in expected.positions.enumerated() {
          let want = expected.contributions[item][k]
          worst = max(worst, abs(row[position] - want))
          XCTAssertEqual(row[position], want, accuracy: tolerance,
                         "\(label): contribution of history[\(position)] to item \(items[item])", file: file, line: line)
          checked += 1
        }
        for position in row.indices where !kept.contains(position) {
          XCTAssertTrue(row[position].isNaN, "\(label): history[\(position)] is not used, yet has a contribution",
                        file: file, line: line)
        }
        // The reasons a reply names: positive, and none left out that PyTorch ranks clearly higher.
        let picked = row.withUnsafeBufferPointer { BecauseSelection.top($0) }
        let wantOf = Dictionary(uniqueKeysWithValues: zip(expected.positions, expected.contributions[item]))
        XCTAssertLessThanOrEqual(picked.count, BecauseSelection.limit, file: file, line: line)
        for position in picked { XCTAssertGreaterThan(wantOf[position]!, -tolerance, "\(label)", file: file, line: line) }
        let weakest = picked.map { wantOf[$0]! }.min() ?? 0
        for (position, value) in wantOf where !picked.contains(position) && value > tolerance {
          XCTAssertTrue(picked.count == BecauseSelection.limit && value <= weakest + 2 * tolerance,
                        "\(label): history[\(position)] (+\(value)) should be a reason of item", file: file, line: line)
        }
      }
      // A reply without items explains nothing, attention included.
      let attention = attention && !items.isEmpty
      if attention, let want = expected.attention {
        XCTAssertEqual(want.count, expected.positions.count, file: file, line: line)
        for (k, position) in expected.positions.enumerated() {
          worst = max(worst, abs(weights[position] - want[k]))
          XCTAssertEqual(weights[position], want[k], accuracy: tolerance, "\(label): attention on history[\(position)]",
                         file: file, line: line)
        }
        if !want.isEmpty { XCTAssertEqual(want.reduce(0, +), 1, accuracy: 1e-4, file: file, line: line) }
      }
      for position in weights.indices where !(attention && kept.contains(position)) {
        XCTAssertTrue(weights[position].isNaN, "\(label): attention on history[\(position)]", file: file, line: line)
      }
    }
    XCTAssertGreaterThan(checked, 0, "\(name): no contribution checked", file: file, line: line)
    return worst
  }

  /// The sidecar refuses to guess missing inputs: an empty context or feature list
  /// where the model takes some is an error, not zeros (the reference pads zeros).
  func expectedRejection(_ request: Case) -> String? {
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
        XCTAssertEqual((error as? PluginError)?.code, .cancelled, "\(error)", file: file, line: line)
      }
    }
    flag = 0
    let request = try XCTUnwrap(cases.first { expectedRejection($0) == nil }, file: file, line: line)
    XCTAssertEqual(try recommend(request, cancelled: &flag).itemIDs, request.expected.top_item_ids, file: file, line: line)
  }
}

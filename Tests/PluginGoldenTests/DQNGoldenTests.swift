import Foundation
import XCTest

/// The `dqn` plugin, loaded from its shared library, against PyTorch (tools/make_fixtures.py) and
/// against the reference propensity formula (tools/recsys_ref/models.py).
final class DQNGoldenTests: XCTestCase {
  /// Q-values of every case (epsilon 0: the greedy slate, propensities 1). `context_omitted_is_zeros`
  /// is refused: the sidecar does not guess a missing context.
  func testMatchesPyTorch() throws {
    let worst = try GoldenFixture("dqn").checkAllCases()
    print("dqn: max abs error vs PyTorch \(worst)")
  }

  /// With epsilon 0 the seed does not matter: the slate is the greedy order and every propensity is
  /// exactly 1.
  func testEpsilonZeroIsGreedyWhateverTheSeed() throws {
    let fixture = try GoldenFixture("dqn")
    for request in fixture.cases where !request.context.isEmpty {
      for seed: UInt64 in [0, 1, 7, 12_345, .max] {
        let answer = try fixture.recommend(request, seed: seed)
        XCTAssertEqual(answer.itemIDs, request.expected.top_item_ids, "\(request.name), seed \(seed)")
        XCTAssert(answer.propensities.allSatisfy { $0 == 1 }, "\(request.name), seed \(seed): \(answer.propensities)")
      }
    }
  }

  /// propensities.json: for each case, a hand-made model whose Q order is the case's q_values
  /// (null = unknown candidate, ineligible = excluded history item) and whose model.json has the
  /// case's epsilon; seeds are tried until the plugin serves the case's slate, whose reported
  /// propensities must then equal the expected ones.
  func testPropensitiesMatchTheReferenceFormula() throws {
    struct Case: Decodable {
      var name: String
      var q_values: [Double?]
      var epsilon: Double
      var eligible_indices: [Int]
      var chosen_indices: [Int]
      var expected_propensities: [Double]
    }
    let url = GoldenFixture.root.appendingPathComponent("dqn/propensities.json")
    let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
    XCTAssertFalse(cases.isEmpty)
    for test in cases {
      let model = try PropensityModel(q: test.q_values, epsilon: test.epsilon)
      let excluded = model.itemIDs.indices.filter { test.q_values[$0] != nil && !test.eligible_indices.contains($0) }
      let history = excluded.map { model.itemIDs[$0] }
      var served: GoldenFixture.Answer?
      var tries: UInt64 = 0
      for seed: UInt64 in 0..<200_000 {
        tries = seed + 1
        let answer = try model.store.recommend(
          history: history, candidates: model.itemIDs, context: [], topK: test.chosen_indices.count,
          excludeHistory: !history.isEmpty, seed: seed)
        XCTAssertEqual(answer.unknownItemIDs, model.unknownItemIDs, test.name)
        if answer.itemIDs == test.chosen_indices.map({ model.itemIDs[$0] }) {
          served = answer
          break
        }
      }
      let answer = try XCTUnwrap(served, "\(test.name): slate \(test.chosen_indices) never served in \(tries) seeds")
      XCTAssertEqual(answer.propensities.count, test.expected_propensities.count, test.name)
      for (got, want) in zip(answer.propensities, test.expected_propensities) {
        XCTAssertEqual(Double(got), want, accuracy: 1e-6, "\(test.name): propensities \(answer.propensities)")
      }
      print("dqn propensities \(test.name): slate served at seed \(tries - 1), propensities \(answer.propensities)")
    }
  }
}

extension DQNGoldenTests {
  /// exclude_history with unknown, repeated and many history events (the fixture's histories are
  /// short and all known): exactly the candidates whose item occurs in the history are left out.
  func testExclusionSkipsUnknownAndRepeatedHistoryItems() throws {
    let q: [Double?] = [0.9, nil, 1.7, -0.3, 1.7, 0.2]
    let model = try PropensityModel(q: q, epsilon: 0)
    let histories: [[Int64]] = [
      [77, 1002, 88, 1002, 1000],  // candidates 2 and 0
      (0..<1_000).map { 5_000 + Int64($0) } + [1002, 1000] + (0..<50).map { 9_000 + Int64($0) },
      [1001, 1001],  // the unknown candidate only: nothing scored is excluded
      (0..<300).map { 1000 + Int64($0 % 6) },  // every candidate, repeatedly
    ]
    let expected: [[Int64]] = [[1004, 1005, 1003], [1004, 1005, 1003], [1002, 1004, 1000, 1005, 1003], []]
    for (history, want) in zip(histories, expected) {
      let answer = try model.store.recommend(
        history: history, candidates: model.itemIDs, context: [], topK: 6, excludeHistory: true, seed: 3)
      XCTAssertEqual(answer.itemIDs, want, "history \(history.prefix(8))...")
      XCTAssertEqual(answer.unknownItemIDs, [1001])
    }
  }
}

/// A dqn whose Q-values order the candidates like `q`: d = 1, item_emb[c] = q[c], g = 0, and
/// A_c = 1 * relu(0 * g + 1 * q[c] + 10) + 0 = q[c] + 10, so Q_c = A_c - mean(A) keeps q's order and
/// its ties (equal embeddings give bit-equal Q). Candidate c is item 1000 + c; a null q is an item the
/// catalog does not have.
struct PropensityModel {
  let store: DQNTestStore
  let itemIDs: [Int64]
  let unknownItemIDs: [Int64]

  init(q: [Double?], epsilon: Double) throws {
    itemIDs = q.indices.map { 1000 + Int64($0) }
    unknownItemIDs = q.indices.filter { q[$0] == nil }.map { 1000 + Int64($0) }
    let known = q.indices.filter { q[$0] != nil }
    let weights = SafeTensorsWriter.file([
      ("item_ids", [known.count], .int64(known.map { 1000 + Int64($0) })),
      ("item_emb.weight", [known.count, 1], .float32(known.map { Float(q[$0]!) })),
      ("state.0.weight", [1, 2], .float32([0, 0])),
      ("state.0.bias", [1], .float32([0])),
      ("value.weight", [1, 1], .float32([0])),
      ("value.bias", [1], .float32([0])),
      ("adv.0.weight", [1, 2], .float32([0, 1])),
      ("adv.0.bias", [1], .float32([10])),
      ("adv.2.weight", [1, 1], .float32([1])),
      ("adv.2.bias", [1], .float32([0])),
    ])
    let manifest: [String: Any] = ["kind": "dqn", "context_dim": 0, "max_history": 8, "epsilon": epsilon]
    store = try DQNTestStore(manifest: manifest, weights: weights)
  }
}

import RecSysStatus
import Foundation
import Logging
import ModelStore
import PluginHost
import XCTest

/// The `dqn` plugin's epsilon-greedy serving policy, loaded from its shared library: the slates it
/// samples follow the probabilities it reports, and a seed replays a slate.
final class DQNExplorationTests: XCTestCase {
  static let epsilon = 0.3
  static let seeds: UInt64 = 100_000

  /// Over 100 000 seeds (about half a second), at every slot, conditioned on the slots before it,
  /// each item is picked with the probability the policy defines,
  /// (1 - eps) * [item is the greedy best remaining] + eps / R, computed here from the Q-values; and
  /// every reported propensity is that probability (to 1e-6, float rounding).
  ///
  /// Tolerance: the count of (prefix, item) over the n runs that start with that prefix is
  /// Binomial(n, p), so its frequency must lie within 5 standard errors, 5 * sqrt(p (1 - p) / n).
  /// Only prefixes seen in at least 1 000 runs are checked, so n * p >= 1000 * 0.3 / 9 ≈ 33: the
  /// exact binomial probability of a 5-sigma miss is then at most 4e-6 per check (6e-7 for large n),
  /// so over the ~460 checks a correct policy fails with odds of at most 2e-3 (union bound); the
  /// seeds are fixed, so the outcome is reproducible, not flaky. A wrong policy lands far outside:
  /// e.g. a random pick that skipped the greedy item moves slot 0's greedy frequency from 0.733 to
  /// 0.7, 23 sigma at n = 100 000. Slot 0 (prefix []) is the unconditional check, p known from Q.
  func testSampledSlatesFollowTheReportedPropensities() throws {
    let fixture = try GoldenFixture("dqn")
    let request = try XCTUnwrap(fixture.cases.first { $0.name == "exclude_history" })
    let store = try DQNTestStore(fixtureWithEpsilon: Self.epsilon)
    let candidates = request.candidate_item_ids
    let position = Dictionary(uniqueKeysWithValues: candidates.enumerated().map { ($1, $0) })

    // Q per candidate position, from one call that returns every candidate (epsilon does not change Q).
    let all = try store.recommend(request, topK: candidates.count, excludeHistory: false, seed: 0)
    var q = [Float](repeating: .nan, count: candidates.count)
    for (id, score) in zip(all.itemIDs, all.scores) { q[position[id]!] = score }
    for (entry, expected) in request.expected.scores.enumerated() {
      guard let expected else { continue }
      XCTAssertEqual(q[entry], expected, accuracy: 1e-4, "Q of candidate \(entry) vs PyTorch")
    }
    let eligible = candidates.indices.filter {
      request.expected.scores[$0] != nil && !request.history_item_ids.contains(candidates[$0])
    }
    XCTAssertEqual(eligible.count, 9, "the case leaves 9 of 12 candidates eligible")
    let slateLength = min(request.top_k, eligible.count)

    /// The policy's probability of picking `item` after `prefix` (models.py's formula).
    func probability(of item: Int, after prefix: [Int]) -> Double {
      let remaining = eligible.filter { !prefix.contains($0) }
      guard remaining.contains(item) else { return 0 }
      let greedy = remaining.min { q[$0] != q[$1] ? q[$0] > q[$1] : $0 < $1 }!
      return (1 - Self.epsilon) * (item == greedy ? 1 : 0) + Self.epsilon / Double(remaining.count)
    }

    struct Group { var runs = 0; var picks: [Int: Int] = [:] }
    var groups: [[Int]: Group] = [:]
    var worstPropensityError = 0.0
    for seed in 0..<Self.seeds {
      let answer = try store.recommend(request, seed: seed)
      let slate = answer.itemIDs.map { position[$0]! }
      XCTAssertEqual(slate.count, slateLength, "seed \(seed): slate length")
      XCTAssertEqual(Set(slate).count, slate.count, "seed \(seed): an item twice")
      for (slot, item) in slate.enumerated() {
        XCTAssert(eligible.contains(item), "seed \(seed): excluded candidate \(item) returned")
        XCTAssertEqual(answer.scores[slot], q[item], "seed \(seed): score is not the item's Q")
        let prefix = Array(slate[..<slot])
        let expected = probability(of: item, after: prefix)
        worstPropensityError = max(worstPropensityError, abs(Double(answer.propensities[slot]) - expected))
        groups[prefix, default: Group()].runs += 1
        groups[prefix]!.picks[item, default: 0] += 1
      }
    }
    XCTAssertLessThan(worstPropensityError, 1e-6, "reported propensities vs the policy's probabilities")

    var checks = 0
    var worstSigmas = 0.0
    for (prefix, group) in groups where group.runs >= 1_000 {
      for item in eligible where !prefix.contains(item) {
        let p = probability(of: item, after: prefix)
        let frequency = Double(group.picks[item, default: 0]) / Double(group.runs)
        let standardError = (p * (1 - p) / Double(group.runs)).squareRoot()
        worstSigmas = max(worstSigmas, abs(frequency - p) / standardError)
        XCTAssertEqual(frequency, p, accuracy: 5 * standardError,
                       "after \(prefix) (\(group.runs) runs): frequency of candidate \(item)")
        checks += 1
      }
    }
    XCTAssertGreaterThanOrEqual(checks, 200, "too few (prefix, item) pairs were checked")
    print("dqn exploration: \(Self.seeds) seeds, eps \(Self.epsilon): \(checks) (prefix, item) frequencies, "
      + "worst \(String(format: "%.2f", worstSigmas)) sigma; max propensity error \(worstPropensityError)")
  }

  /// A seed replays its slate exactly; different seeds explore different slates.
  func testTheSameSeedGivesTheSameSlate() throws {
    let fixture = try GoldenFixture("dqn")
    let request = try XCTUnwrap(fixture.cases.first { $0.name == "many_candidates" })
    let store = try DQNTestStore(fixtureWithEpsilon: Self.epsilon)
    var slates = Set<[Int64]>()
    for seed: UInt64 in [0, 1, 2, 42, 0xDEAD_BEEF, .max] {
      let first = try store.recommend(request, seed: seed)
      let again = try store.recommend(request, seed: seed)
      XCTAssertEqual(first.itemIDs, again.itemIDs, "seed \(seed): slate")
      XCTAssertEqual(first.scores, again.scores, "seed \(seed): scores")
      XCTAssertEqual(first.propensities, again.propensities, "seed \(seed): propensities")
      XCTAssertEqual(first.itemIDs.count, request.top_k)
      slates.insert(first.itemIDs)
    }
    XCTAssertGreaterThan(slates.count, 1, "epsilon 0.3 never explored over 6 seeds")
  }

  /// Instances are read-only: calls from several threads at once give what calls one by one give.
  func testConcurrentCallsMatchSequentialOnes() throws {
    let fixture = try GoldenFixture("dqn")
    let request = try XCTUnwrap(fixture.cases.first { $0.name == "many_candidates" })
    let store = try DQNTestStore(fixtureWithEpsilon: Self.epsilon)
    let calls = 2_000
    let sequential = try (0..<calls).map { try store.recommend(request, seed: UInt64($0)).itemIDs }
    let lock = NSLock()
    var concurrent = [[Int64]](repeating: [], count: calls)
    var failures: [String] = []
    DispatchQueue.concurrentPerform(iterations: 8) { worker in
      for call in stride(from: worker, to: calls, by: 8) {
        do {
          let ids = try store.recommend(request, seed: UInt64(call)).itemIDs
          lock.withLock { concurrent[call] = ids }
        } catch {
          lock.withLock { failures.append("\(error)") }
        }
      }
    }
    XCTAssertEqual(failures, [])
    XCTAssertEqual(concurrent, sequential)
  }

  /// model.json's epsilon must be a probability.
  func testEpsilonOutsideZeroToOneIsRefused() throws {
    for epsilon in [-0.1, 1.5] {
      XCTAssertThrowsError(try DQNTestStore(fixtureWithEpsilon: epsilon)) { error in
        XCTAssert("\(error)".contains("epsilon"), "\(error)")
      }
    }
  }

  /// epsilon 1: every slate is a uniformly random ordering, each propensity 1/R.
  func testEpsilonOneIsUniform() throws {
    let fixture = try GoldenFixture("dqn")
    let request = try XCTUnwrap(fixture.cases.first { $0.name == "short_history" })
    let store = try DQNTestStore(fixtureWithEpsilon: 1)
    let known = request.expected.scores.compactMap { $0 }.count
    for seed: UInt64 in 0..<50 {
      let answer = try store.recommend(request, seed: seed)
      XCTAssertEqual(answer.propensities, (0..<answer.itemIDs.count).map { Float(1 / Double(known - $0)) })
    }
  }
}

/// A throwaway one-model store ("model", version 1) in a temporary folder, loaded through the real
/// registry and plugin host like a GoldenFixture, for dqn tests that need another model.json or
/// hand-made weights.
final class DQNTestStore {
  let directory: URL
  let model: ServingModel

  struct LoadError: Error, CustomStringConvertible {
    var description: String
  }

  /// `manifest`: model.json as a JSON object; its "sha256" is filled in from `weights`.
  init(manifest: [String: Any], weights: Data) throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("dqn-test-\(UUID().uuidString)")
    let version = directory.appendingPathComponent("model/1")
    try FileManager.default.createDirectory(at: version, withIntermediateDirectories: true)
    let weightsURL = version.appendingPathComponent("weights.safetensors")
    try weights.write(to: weightsURL)
    var manifest = manifest
    manifest["sha256"] = try Self.sha256(of: weightsURL)
    try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
      .write(to: version.appendingPathComponent("model.json"))
    let registry = ModelRegistry(storePath: directory.path, plugins: GoldenFixture.plugins, logger: Logger(label: "dqn-tests"))
    registry.reload()
    do {
      model = try registry.resolve(ModelSelector(model: "model"))
    } catch {
      // The load failure's reason is in the model's status, not in resolve's error.
      let reasons = registry.status(model: "model").flatMap { [$0.error] + $0.versions.map(\.error) }.filter { !$0.isEmpty }
      try? FileManager.default.removeItem(at: directory)
      throw LoadError(description: "\(error): \(reasons.joined(separator: "; "))")
    }
  }

  /// The golden dqn fixture's weights with model.json's epsilon replaced.
  convenience init(fixtureWithEpsilon epsilon: Double) throws {
    let version = GoldenFixture.root.appendingPathComponent("dqn/model/1")
    var manifest = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: version.appendingPathComponent("model.json"))) as? [String: Any])
    manifest["epsilon"] = epsilon
    try self.init(manifest: manifest, weights: Data(contentsOf: version.appendingPathComponent("weights.safetensors")))
  }

  /// `sha256sum`'s digest of a file (the store requires model.json to pin its weights).
  private static func sha256(of file: URL) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [file.path]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0, let digest = text.split(separator: " ").first, digest.count == 64 else {
      throw LoadError(description: "sha256sum \(file.path) failed: \(text)")
    }
    return String(digest)
  }

  deinit { try? FileManager.default.removeItem(at: directory) }

  func recommend(_ request: GoldenFixture.Case, topK: Int? = nil, excludeHistory: Bool? = nil, seed: UInt64)
    throws -> GoldenFixture.Answer
  {
    try recommend(history: request.history_item_ids, candidates: request.candidate_item_ids, context: request.context,
                  topK: topK ?? request.top_k, excludeHistory: excludeHistory ?? request.exclude_history, seed: seed)
  }

  /// One request through the plugin's C entry point (history events all "view").
  func recommend(history: [Int64], candidates: [Int64], context: [Float], topK: Int, excludeHistory: Bool,
                 seed: UInt64) throws -> GoldenFixture.Answer {
    try model.instance.recommend(ModelRequest(
      historyItemIDs: history, candidateItemIDs: candidates, context: context, topK: topK,
      excludeHistory: excludeHistory, seed: seed))
  }
}

/// Writes a safetensors file (8-byte little-endian header length, JSON header padded with spaces to
/// a multiple of 8, then the tensors' bytes in order), for hand-made test models.
enum SafeTensorsWriter {
  enum Values {
    case float32([Float])
    case int64([Int64])
  }

  static func file(_ tensors: [(name: String, shape: [Int], values: Values)]) -> Data {
    var header: [String] = []
    var body = Data()
    for tensor in tensors {
      let begin = body.count
      let dtype: String
      switch tensor.values {
      case .float32(let values):
        dtype = "F32"
        values.withUnsafeBytes { body.append(contentsOf: $0) }
      case .int64(let values):
        dtype = "I64"
        values.withUnsafeBytes { body.append(contentsOf: $0) }
      }
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      header.append("\"\(tensor.name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(body.count)]}")
    }
    var json = "{" + header.joined(separator: ",") + "}"
    while json.utf8.count % 8 != 0 { json += " " }
    var file = Data()
    withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(contentsOf: json.utf8)
    file.append(body)
    return file
  }
}

import XCTest

import Experiments

/// Files over a limit are refused fast, naming the limit and the place, with messages that do
/// not grow with the input.
final class ExperimentsLimitsTests: XCTestCase {
  func refusal(_ yaml: String) -> ExperimentsConfigError? {
    do {
      _ = try ExperimentsConfig(yaml: yaml, source: "x.yaml")
      return nil
    } catch {
      return error as? ExperimentsConfigError
    }
  }

  func experiment(_ key: String, salt: String = "1", arms: Int = 1, surfaces: Int = 1) -> String {
    let weight = 100.0 / Double(arms)
    let armList = (0..<arms).map { "{name: a\($0), model: mlp, weight: \(weight)}" }.joined(separator: ", ")
    let surfaceList = (0..<surfaces).map { "s\($0)" }.joined(separator: ", ")
    return "  - {key: \(key), salt: \"\(salt)\", match: {surface: [\(surfaceList)]}, arms: [\(armList)]}\n"
  }

  func testTheLimitsThemselvesAreAccepted() throws {
    let file = "experiments:\n" + (0..<256).map { experiment("e\($0)", arms: $0 == 0 ? 32 : 2, surfaces: 64) }.joined()
    let config = try XCTUnwrap(try ExperimentsConfig(yaml: file, source: "x.yaml"))
    XCTAssertEqual(config.experiments.count, 256)
    XCTAssertEqual(config.experiments[0].arms.count, 32)
    XCTAssertNoThrow(try ExperimentsConfig(
      yaml: "experiments:\n" + experiment("e", salt: String(repeating: "s", count: 256)), source: "x"))
  }

  func testTooManyExperimentsArmsOrSurfaces() {
    let many = "experiments:\n" + (0..<257).map { experiment("e\($0)") }.joined()
    XCTAssertEqual(refusal(many)?.message, "top level: 257 experiments, above the limit of 256")
    XCTAssertEqual(refusal("experiments:\n" + experiment("wide", arms: 33))?.message,
                   "experiment \"wide\": 33 arms, above the limit of 32")
    XCTAssertEqual(refusal("experiments:\n" + experiment("broad", surfaces: 65))?.message,
                   "experiment \"broad\", match: 65 surfaces, above the limit of 64")
  }

  func testTenThousandExperimentsAreRefusedQuickly() {
    let file = "experiments:\n" + (0..<10_000).map { experiment("e\($0)") }.joined()
    let start = Date()
    XCTAssertEqual(refusal(file)?.message.contains("above the limit of 256"), true)
    XCTAssertLessThan(Date().timeIntervalSince(start), 2)
  }

  func testLongStringsAreRefusedWithTheirValueCut() throws {
    let salt = String(repeating: "s", count: 257)
    let saltError = try XCTUnwrap(refusal("experiments:\n" + experiment("e", salt: salt)))
    XCTAssertTrue(saltError.message.hasPrefix("experiment \"e\": salt \"sssss"), saltError.message)
    XCTAssertTrue(saltError.message.hasSuffix("… (257 bytes)\" is above the limit of 256 bytes"), saltError.message)

    let surface = String(repeating: "p", count: 129)
    let surfaceError = try XCTUnwrap(refusal(
      "experiments:\n  - {key: e, salt: \"\", match: {surface: \(surface)}, arms: [{name: a, model: mlp, weight: 100}]}"))
    XCTAssertTrue(surfaceError.message.contains("surface \"ppp"), surfaceError.message)
    XCTAssertTrue(surfaceError.message.contains("(129 bytes)\" is above the limit of 128 bytes"), surfaceError.message)

    let key = String(repeating: "k", count: 4_000)
    let keyError = try XCTUnwrap(refusal("experiments:\n" + experiment(key)))
    XCTAssertTrue(keyError.message.contains("(4000 bytes)\" must be 1 to 128"), keyError.message)
    XCTAssertLessThan(keyError.description.utf8.count, 300)

    let model = String(repeating: "m", count: 3_000)
    let modelError = try XCTUnwrap(refusal(
      "experiments:\n  - {key: e, salt: \"\", arms: [{name: a, model: \(model), weight: 100}]}"))
    XCTAssertTrue(modelError.message.contains("is longer than 257 bytes"), modelError.message)
    XCTAssertLessThan(modelError.description.utf8.count, 400)

    let field = String(repeating: "f", count: 1_000)
    let fieldError = try XCTUnwrap(refusal("experiments: []\n\(field): 1\n"))
    XCTAssertTrue(fieldError.message.contains("unknown field \"fff"), fieldError.message)
    XCTAssertLessThan(fieldError.description.utf8.count, 300)
  }

  func testTheGuardRunsBeforeYams() throws {
    let nested = "experiments: " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
    let deep = try XCTUnwrap(refusal(nested))
    XCTAssertEqual(deep.line, 1)
    XCTAssertTrue(deep.message.contains("nested more than 64 levels"), deep.message)

    let alias = "experiments: &e []\ndefault_model: *e\n"
    XCTAssertEqual(refusal(alias)?.message.contains("anchors (&name) are not allowed"), true)
    let big = "experiments: []\n" + String(repeating: "# padding\n", count: 110_000)
    XCTAssertEqual(refusal(big)?.message.contains("above the limit of 1048576 bytes"), true)
  }

  func testEveryMessageIsCapped() {
    let error = ExperimentsConfigError(source: "x", line: nil, message: String(repeating: "m", count: 100_000))
    XCTAssertLessThanOrEqual(error.message.utf8.count, Excerpt.messageBytes + 30)
  }
}

import Experiments
import ModelStore
import Routing
import XCTest

/// The precedence of routes: explicit model > forced arm > experiment > default.
final class RouterTests: XCTestCase {
  private let yaml = """
    default_model: base
    experiments:
      - key: home
        salt: s1
        match: {surface: home}
        holdout: 20
        arms:
          - {name: a, model: alpha, weight: 50}
          - {name: b, model: beta@2, weight: 50}
    """

  private func router() throws -> Router {
    let config = try ExperimentsConfig(yaml: yaml, source: "test.yaml")
    return Router(defaultModel: ModelSelector(model: "sidecar-default"),
                  experiments: ExperimentSet(config: config, ledger: ExperimentLedger(windowCapacity: 16)))
  }

  private func request(_ user: String, surface: String = "home", model: String = "", forced: String = "") -> Router.Request {
    Router.Request(explicitModel: model, forcedArm: forced,
                   traits: RequestTraits(userID: user, surface: surface, historyCount: 0, candidateCount: 10), seed: 7)
  }

  func testTheExplicitModelWinsOverEverything() throws {
    let route = try router().route(request("u1", model: "lstm@3", forced: "home/b"))
    XCTAssertEqual(route.selector, ModelSelector(model: "lstm", version: .number(3)))
    XCTAssertNil(route.assignment)
    XCTAssertThrowsError(try router().route(request("u1", model: "lstm@")))
  }

  func testAForcedArmWinsOverTheUsersAssignmentAndTargeting() throws {
    let router = try router()
    for user in (0..<50).map({ "user-\($0)" }) {
      let route = try router.route(request(user, surface: "cart", forced: "home/b"))
      XCTAssertEqual(route.selector, ModelSelector(model: "beta", version: .number(2)))
      XCTAssertEqual(route.assignment?.armName, "b")
      XCTAssertEqual(route.assignment?.forced, true)
    }
    XCTAssertThrowsError(try router.route(request("u1", forced: "home/c"))) { error in
      XCTAssertTrue("\(error)".contains("home/a"), "\(error)")
    }
  }

  func testExperimentUsersGetTheirArmAndHoldoutUsersTheDefault() throws {
    let router = try router()
    var seen: [String: Int] = [:]
    for user in (0..<2_000).map({ "user-\($0)" }) {
      let route = try router.route(request(user))
      let assignment = try XCTUnwrap(route.assignment)
      seen[assignment.armName, default: 0] += 1
      switch assignment.armName {
      case "a": XCTAssertEqual(route.selector, ModelSelector(model: "alpha"))
      case "b": XCTAssertEqual(route.selector, ModelSelector(model: "beta", version: .number(2)))
      case "holdout": XCTAssertEqual(route.selector, ModelSelector(model: "base"))
      default: XCTFail("unexpected arm \(assignment.armName)")
      }
      // The same user, asked again, lands in the same place.
      XCTAssertEqual(try router.route(request(user)).assignment?.armName, assignment.armName)
    }
    XCTAssertEqual(Set(seen.keys), ["a", "b", "holdout"])
  }

  func testUnmatchedAndAnonymousTrafficGetsTheDefault() throws {
    let router = try router()
    for route in [try router.route(request("u1", surface: "pdp")), try router.route(request(""))] {
      XCTAssertEqual(route.selector, ModelSelector(model: "base"))
      XCTAssertNil(route.assignment)
    }
    router.replaceExperiments(nil)
    XCTAssertEqual(try router.route(request("u1")).selector, ModelSelector(model: "sidecar-default"))
    XCTAssertThrowsError(try router.route(request("u1", forced: "home/a"))) { error in
      XCTAssertTrue("\(error)".contains("runs no experiments"), "\(error)")
    }
  }
}

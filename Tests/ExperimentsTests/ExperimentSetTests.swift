import XCTest

import Experiments

final class ExperimentSetTests: XCTestCase {
  func shares(_ arms: [String?]) -> [String: Double] {
    var counts: [String: Int] = [:]
    for arm in arms { counts[arm ?? "none", default: 0] += 1 }
    return counts.mapValues { 100 * Double($0) / Double(arms.count) }
  }

  func testArmSharesFollowTheWeightsWithinOnePoint() throws {
    for weights in [[10.0, 30, 60], [50, 50], [33.33, 33.33, 33.34], [1, 99]] {
      let set = try experimentSet(singleExperiment(salt: "shares", arms: fixedArms(weights)))
      let observed = shares(armsOf(set, users()))
      for (index, weight) in weights.enumerated() {
        XCTAssertEqual(observed["arm\(index)"] ?? 0, weight, accuracy: 1, "weights \(weights)")
      }
    }
  }

  func testHoldoutTakesItsShareAndGetsNoModel() throws {
    let set = try experimentSet(singleExperiment(holdout: 10, arms: fixedArms([50, 50])))
    var held = 0
    var served: [String: Int] = [:]
    for user in users() {
      let assignment = try XCTUnwrap(set.assign(RequestTraits(userID: user), seed: 0))
      if assignment.armName == "holdout" {
        held += 1
        XCTAssertNil(assignment.model)
        XCTAssertNil(assignment.armIndex)
      } else {
        served[assignment.armName, default: 0] += 1
        XCTAssertNotNil(assignment.model)
      }
      XCTAssertEqual(assignment.probability, 1)
      XCTAssertFalse(assignment.forced)
    }
    XCTAssertEqual(100 * Double(held) / Double(userCount), 10, accuracy: 1)
    // Among the rest, the weights hold.
    XCTAssertEqual(Double(served["arm0"] ?? 0) / Double(userCount - held), 0.5, accuracy: 0.01)
  }

  func testRaisingAnArmOfTwoMovesUsersOnlyIntoIt() throws {
    let before = armsOf(try experimentSet(singleExperiment(arms: fixedArms([10, 90]))), users())
    let after = armsOf(try experimentSet(singleExperiment(arms: fixedArms([50, 50]))), users())
    var moved = 0
    for (old, new) in zip(before, after) where old != new {
      XCTAssertEqual(old, "arm1")
      XCTAssertEqual(new, "arm0")
      moved += 1
    }
    XCTAssertEqual(100 * Double(moved) / Double(userCount), 40, accuracy: 1)
  }

  func testMovingWeightFromTheMiddleToTheLastArmMovesOnlyThoseUsers() throws {
    let before = armsOf(try experimentSet(singleExperiment(arms: fixedArms([20, 50, 30]))), users())
    let after = armsOf(try experimentSet(singleExperiment(arms: fixedArms([20, 30, 50]))), users())
    var moved = 0
    for (old, new) in zip(before, after) where old != new {
      XCTAssertEqual(old, "arm1")
      XCTAssertEqual(new, "arm2")
      moved += 1
    }
    XCTAssertEqual(100 * Double(moved) / Double(userCount), 20, accuracy: 1)
  }

  func testRaisingTheHoldoutOnlyMovesUsersIntoIt() throws {
    let before = armsOf(try experimentSet(singleExperiment(holdout: 5, arms: fixedArms([30, 70]))), users())
    let after = armsOf(try experimentSet(singleExperiment(holdout: 20, arms: fixedArms([30, 70]))), users())
    var moved = 0
    for (old, new) in zip(before, after) where old != new {
      XCTAssertEqual(new, "holdout")
      moved += 1
    }
    XCTAssertEqual(100 * Double(moved) / Double(userCount), 15, accuracy: 1)
    XCTAssertEqual(100 * Double(after.filter { $0 == "holdout" }.count) / Double(userCount), 20, accuracy: 1)
  }

  func testArmRangesAreCumulativeAndRoundHalfAwayFromZero() throws {
    var experiment = try ExperimentsConfig(yaml: singleExperiment(arms: fixedArms([100])), source: "t").experiments[0]
    func ranges(_ weights: [Double]) -> [Range<Int>] {
      experiment.arms = weights.map { Arm(name: "a\($0)", model: experiment.arms[0].model, weightPercent: $0) }
      return experiment.armBucketRanges
    }
    XCTAssertEqual(ranges([10, 30, 60]), [0..<1000, 1000..<4000, 4000..<10000])
    XCTAssertEqual(ranges([33.335, 33.33, 33.335]), [0..<3334, 3334..<6666, 6666..<10000])
    XCTAssertEqual(ranges([100]), [0..<10000])
  }

  func testMatchConditions() throws {
    let set = try experimentSet(
      """
      experiments:
        - key: pages
          salt: ""
          match: {surface: [home, pdp], min_history: 1, max_history: 50, whole_catalog: false}
          arms: [{name: a, model: mlp, weight: 100}]
        - key: catalog
          salt: ""
          match: {surface: home, whole_catalog: true}
          arms: [{name: b, model: sasrec, weight: 100}]
        - key: everything
          salt: ""
          arms: [{name: c, model: lstm, weight: 100}]
      """)
    func experiment(_ surface: String, history: Int, candidates: Int) -> String? {
      set.assign(RequestTraits(userID: "u1", surface: surface, historyCount: history, candidateCount: candidates), seed: 0)?
        .experimentKey
    }
    XCTAssertEqual(experiment("home", history: 1, candidates: 20), "pages")
    XCTAssertEqual(experiment("pdp", history: 50, candidates: 20), "pages")
    XCTAssertEqual(experiment("home", history: 0, candidates: 20), "everything", "below min_history")
    XCTAssertEqual(experiment("home", history: 51, candidates: 20), "everything", "above max_history")
    XCTAssertEqual(experiment("cart", history: 5, candidates: 20), "everything", "other surface")
    XCTAssertEqual(experiment("home", history: 5, candidates: 0), "catalog", "whole catalog skips the first")
    XCTAssertEqual(experiment("pdp", history: 5, candidates: 0), "everything")
    XCTAssertEqual(set.config.experiments[0].matchDescription, "surface in [home, pdp]; history 1...50; with candidates")
    XCTAssertEqual(set.config.experiments[1].matchDescription, "surface in [home]; whole catalog (no candidates)")
    XCTAssertEqual(set.config.experiments[2].matchDescription, "all requests")
  }

  func testNoMatchAndEmptyUserIDAreNotEnrolled() throws {
    let set = try experimentSet(
      """
      experiments:
        - {key: e, salt: "", match: {surface: home}, arms: [{name: a, model: mlp, weight: 100}]}
      """)
    XCTAssertNil(set.assign(RequestTraits(userID: "", surface: "home"), seed: 0))
    XCTAssertNil(set.assign(RequestTraits(userID: "u", surface: "pdp"), seed: 0))
    XCTAssertNotNil(set.assign(RequestTraits(userID: "u", surface: "home"), seed: 0))
  }

  func testAssignmentCarriesModelAndShadow() throws {
    let set = try experimentSet(
      """
      experiments:
        - {key: e, salt: "", shadow: sasrec@2, arms: [{name: a, model: lstm@stable, weight: 100}]}
      """)
    let assignment = try XCTUnwrap(set.assign(RequestTraits(userID: "u"), seed: 0))
    XCTAssertEqual(assignment.model?.description, "lstm@stable")
    XCTAssertEqual(assignment.shadow?.description, "sasrec@2")
    XCTAssertEqual(assignment.armIndex, 0)
  }

  func testForcedArmIgnoresMatchAndHoldout() throws {
    let ledger = ExperimentLedger()
    let set = try experimentSet(
      """
      experiments:
        - key: e
          salt: ""
          holdout: 50
          match: {surface: home}
          shadow: sasrec
          arms: [{name: control, model: mlp, weight: 50}, {name: treatment, model: lstm, weight: 50}]
      """, ledger: ledger)
    let traits = RequestTraits(userID: "", surface: "elsewhere")
    let treatment = try set.forced("e/treatment", traits: traits)
    XCTAssertEqual(treatment.armName, "treatment")
    XCTAssertEqual(treatment.armIndex, 1)
    XCTAssertEqual(treatment.model?.description, "lstm")
    XCTAssertTrue(treatment.forced)
    XCTAssertEqual(treatment.probability, 1)
    XCTAssertNil(treatment.shadow)

    let holdout = try set.forced("e/holdout", traits: traits)
    XCTAssertEqual(holdout.armName, "holdout")
    XCTAssertNil(holdout.armIndex)
    XCTAssertNil(holdout.model)

    // Forced exposures join feedback but count nothing.
    expose(ledger, "r1", treatment)
    XCTAssertEqual(try ledger.recordFeedback(requestID: "r1", itemID: 2, kind: .click, value: 0).arm, "treatment")
    XCTAssertEqual(set.report()[0].arms.map(\.impressions), [0, 0, 0])
    XCTAssertEqual(set.report()[0].arms.map(\.clicks), [0, 0, 0])
  }

  func testUnknownForcedArmListsTheValidOnes() throws {
    let set = try experimentSet(singleExperiment(key: "home", arms: fixedArms([50, 50])))
    for text in ["home/arm9", "away/arm0", "home", "", "home/"] {
      XCTAssertThrowsError(try set.forced(text, traits: RequestTraits(userID: "u"))) { error in
        let message = String(describing: error)
        XCTAssertEqual(error as? ExperimentsError, .invalidForcedArm(message))
        XCTAssertTrue(message.contains("\"\(text)\""), message)
        XCTAssertTrue(message.contains("home/arm0, home/arm1, home/holdout"), message)
      }
    }
  }
}

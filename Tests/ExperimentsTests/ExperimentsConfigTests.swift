import XCTest

import Experiments

final class ExperimentsConfigTests: XCTestCase {
  let documented = """
    default_model: mlp            # optional: model for traffic no experiment takes, and for holdout users
    experiments:                  # evaluated in order; the first whose match accepts the request takes it
      - key: home-ranker          # unique; letters, digits, '-', '_', '.'
        salt: "2026-11"           # string; change it to re-randomise users (results restart)
        match:                    # optional; all given conditions must hold
          surface: [home, pdp]    # a string or a list; request.surface must be one of them
          min_history: 1          # history length bounds (inclusive)
          max_history: 50
          whole_catalog: false    # true: only requests without candidates; false: only with
        holdout: 5                # percent of matched users served the default model (0 <= h < 100)
        mode: fixed               # fixed (default) | thompson
        arms:                     # first arm = control
          - {name: control, model: mlp, weight: 50}      # weight: percent of non-holdout traffic
          - {name: treatment, model: lstm@stable, weight: 50}
        shadow: sasrec            # optional model selector scored off the request path
      - key: bandit
        salt: ""
        mode: thompson
        min_share: 10
        arms:
          - {name: a, model: mlp@3}
          - {name: b, model: dqn, weight: 7}
    """

  func testReadsTheDocumentedFormat() throws {
    let config = try ExperimentsConfig(yaml: documented, source: "experiments.yaml")
    XCTAssertEqual(config.defaultModel?.description, "mlp")
    XCTAssertEqual(config.experiments.map(\.key), ["home-ranker", "bandit"])
    let home = config.experiments[0]
    XCTAssertEqual(home.salt, "2026-11")
    XCTAssertEqual(home.match.surfaces, ["home", "pdp"])
    XCTAssertEqual(home.match.minHistory, 1)
    XCTAssertEqual(home.match.maxHistory, 50)
    XCTAssertEqual(home.match.wholeCatalog, false)
    XCTAssertEqual(home.holdoutPercent, 5)
    XCTAssertEqual(home.mode, .fixed)
    XCTAssertEqual(home.arms.map(\.name), ["control", "treatment"])
    XCTAssertEqual(home.arms.map(\.model.description), ["mlp", "lstm@stable"])
    XCTAssertEqual(home.arms.map(\.weightPercent), [50, 50])
    XCTAssertEqual(home.shadow?.description, "sasrec")
    let bandit = config.experiments[1]
    XCTAssertEqual(bandit.mode, .thompson)
    XCTAssertEqual(bandit.minSharePercent, 10)
    XCTAssertEqual(bandit.arms.map(\.weightPercent), [0, 7])
    XCTAssertEqual(bandit.match, Match())
    XCTAssertEqual(config.selectors.map(\.description), ["mlp", "lstm@stable", "sasrec", "mlp@3", "dqn"])
    XCTAssertEqual(try ExperimentsConfig(yaml: documented, source: "experiments.yaml"), config)
  }

  func testNoExperiments() throws {
    XCTAssertEqual(try ExperimentsConfig(yaml: "experiments: []", source: "x").experiments, [])
  }

  func testValidateModelsNamesTheFirstProblem() throws {
    let config = try ExperimentsConfig(yaml: documented, source: "experiments.yaml")
    XCTAssertNoThrow(try config.validateModels { _ in nil })
    XCTAssertThrowsError(try config.validateModels { $0.model == "lstm" ? "no such model in the store" : nil }) {
      let message = String(describing: $0)
      XCTAssertEqual(
        message,
        "experiments.yaml: experiment \"home-ranker\", arm \"treatment\": model \"lstm@stable\": no such model in the store")
    }
    XCTAssertThrowsError(try config.validateModels { $0.model == "sasrec" ? "not loaded" : nil }) {
      XCTAssertTrue(String(describing: $0).contains("experiment \"home-ranker\", shadow: model \"sasrec\": not loaded"))
    }
    XCTAssertThrowsError(try config.validateModels { $0.description == "mlp" ? "unknown" : nil }) {
      XCTAssertTrue(String(describing: $0).contains("default_model: model \"mlp\": unknown"))
    }
  }

  func testBadYAMLNamesTheLine() {
    assertRejected("experiments:\n  - key: [unclosed\n", mentioning: ["not valid YAML"])
    assertRejected("experiments:\n  - key: a\n salt: b\n", mentioning: [":3:", "not valid YAML"])
  }

  func testEmptyFile() {
    assertRejected("", mentioning: ["empty", "experiments: []"])
  }

  func testRepeatedMappingKeysAreRefusedAnywhere() {
    assertRejected(
      """
      experiments:
        - key: a
          salt: ""
          arms:
            - name: x
              model: mlp
              weight: 50
              weight: 100
      """, mentioning: [":8:", "\"weight\" appears twice", "first at line 7"])
    assertRejected("default_model: mlp\ndefault_model: lstm\nexperiments: []\n", mentioning: [":2:", "\"default_model\""])
  }

  func testRepeatedExperimentKeys() {
    let arms = "[{name: a, model: mlp, weight: 100}]"
    assertRejected(
      """
      experiments:
        - {key: home, salt: "", arms: \(arms)}
        - {key: home, salt: "1", arms: \(arms)}
      """, mentioning: ["experiments[1]", "\"home\" is already used", "first at line 2"])
  }

  func testUnknownFieldsListTheAllowedOnes() {
    assertRejected(
      singleExperiment(arms: "[{name: a, model: mlp, wieght: 100}]"),
      mentioning: ["experiment \"exp\", arm \"a\"", "unknown field \"wieght\"", "did you mean \"weight\"", "allowed: name, model, weight"])
    assertRejected(
      singleExperiment(extra: "    holdot: 5", arms: fixedArms([100])),
      mentioning: ["experiment \"exp\"", "unknown field \"holdot\"", "did you mean \"holdout\""])
    assertRejected("experiment: []", mentioning: ["top level", "unknown field \"experiment\"", "default_model, experiments"])
    assertRejected(
      singleExperiment(extra: "    match: {surfaces: home}", arms: fixedArms([100])),
      mentioning: ["experiment \"exp\", match", "\"surfaces\"", "did you mean \"surface\""])
  }

  func testWeightsMustSumTo100() {
    assertRejected(
      singleExperiment(arms: fixedArms([40, 50])),
      mentioning: ["experiment \"exp\"", "sum to 90", "arm0 40 + arm1 50"])
    assertRejected(singleExperiment(arms: fixedArms([33.3, 33.3, 33.3])), mentioning: ["sum to 99.9"])
    assertRejected(
      singleExperiment(arms: "[{name: a, model: mlp, weight: 0}, {name: b, model: mlp, weight: 100}]"),
      mentioning: ["arm \"a\"", "weight 0 must be above 0"])
    assertRejected(
      singleExperiment(arms: "[{name: a, model: mlp}]"), mentioning: ["arm \"a\"", "\"weight\" is required"])
    assertRejected(
      singleExperiment(arms: "[{name: a, model: mlp, weight: 0.001}, {name: b, model: mlp, weight: 99.999}]"),
      mentioning: ["arm \"a\"", "no bucket"])
    assertRejected(
      singleExperiment(arms: "[{name: a, model: mlp, weight: lots}]"), mentioning: ["arm \"a\"", "weight must be a number"])
  }

  func testArmNames() {
    assertRejected(
      singleExperiment(arms: "[{name: holdout, model: mlp, weight: 100}]"),
      mentioning: ["experiment \"exp\"", "\"holdout\" is reserved"])
    assertRejected(
      singleExperiment(arms: "[{name: a, model: mlp, weight: 50}, {name: a, model: lstm, weight: 50}]"),
      mentioning: ["experiment \"exp\"", "\"a\" is used twice"])
    assertRejected(
      singleExperiment(arms: "[{name: a/b, model: mlp, weight: 100}]"), mentioning: ["arms[0]", "\"a/b\""])
    assertRejected(singleExperiment(arms: "[]"), mentioning: ["experiment \"exp\"", "arms is empty"])
  }

  func testBadSelector() {
    assertRejected(
      singleExperiment(arms: "[{name: a, model: \"mlp@\", weight: 100}]"),
      mentioning: ["experiment \"exp\", arm \"a\"", "\"mlp@\" is not valid"])
    assertRejected("default_model: \"m l p\"\nexperiments: []", mentioning: ["default_model", "\"m l p\""])
  }

  func testThompsonMinShare() {
    let arms = "[{name: a, model: mlp}, {name: b, model: lstm}, {name: c, model: dqn}]"
    assertRejected(
      singleExperiment(extra: "    mode: thompson\n    min_share: 40", arms: arms),
      mentioning: ["experiment \"exp\"", "min_share 40", "33.333333", "3 arms"])
    assertRejected(
      singleExperiment(extra: "    min_share: 10", arms: fixedArms([50, 50])),
      mentioning: ["min_share applies only to mode: thompson"])
    assertRejected(singleExperiment(extra: "    mode: greedy", arms: arms), mentioning: ["\"greedy\"", "fixed or thompson"])
    XCTAssertNoThrow(
      try ExperimentsConfig(yaml: singleExperiment(extra: "    mode: thompson\n    min_share: 33.3333333", arms: arms), source: "t"))
  }

  func testHoldoutRange() {
    assertRejected(singleExperiment(holdout: 100, arms: fixedArms([100])), mentioning: ["experiment \"exp\"", "holdout 100"])
    assertRejected(singleExperiment(holdout: -1, arms: fixedArms([100])), mentioning: ["holdout -1"])
  }

  func testKeysAndSaltsMustBeStrings() {
    assertRejected(
      "experiments:\n  - {key: a, salt: 2026.10, arms: [{name: a, model: mlp, weight: 100}]}",
      mentioning: [":2:", "experiment \"a\"", "salt 2026.10 is not a string", "salt: \"2026.10\""])
    assertRejected(
      "experiments:\n  - key: a\n    salt:\n    arms: [{name: a, model: mlp, weight: 100}]",
      mentioning: ["salt has no value"])
    assertRejected(
      "experiments:\n  - {salt: a, arms: [{name: a, model: mlp, weight: 100}]}",
      mentioning: ["experiments[0]", "\"key\" is required"])
    assertRejected(
      "experiments:\n  - {key: \"a b\", salt: a, arms: [{name: a, model: mlp, weight: 100}]}",
      mentioning: ["experiments[0]", "key \"a b\""])
    assertRejected(
      "experiments:\n  - {key: a, arms: [{name: a, model: mlp, weight: 100}]}",
      mentioning: ["experiment \"a\"", "\"salt\" is required"])
  }

  func testMatchBounds() {
    assertRejected(
      singleExperiment(extra: "    match: {min_history: 10, max_history: 5}", arms: fixedArms([100])),
      mentioning: ["experiment \"exp\", match", "min_history 10 is above max_history 5"])
    assertRejected(
      singleExperiment(extra: "    match: {min_history: -1}", arms: fixedArms([100])), mentioning: ["min_history -1"])
    assertRejected(
      singleExperiment(extra: "    match: {whole_catalog: yes}", arms: fixedArms([100])),
      mentioning: ["whole_catalog must be true or false"])
    assertRejected(
      singleExperiment(extra: "    match: {surface: []}", arms: fixedArms([100])), mentioning: ["surface is an empty list"])
  }

  func testStructureErrors() {
    assertRejected("experiments: {key: a}", mentioning: ["experiments must be a list"])
    assertRejected("default_model: mlp", mentioning: ["\"experiments\" is required"])
    assertRejected("experiments: [hello]", mentioning: ["experiments[0]", "expected a mapping"])
  }
}

final class FeedbackTTLConfigTests: XCTestCase {
  func testFeedbackTTLIsReadPerExperimentAndBounded() throws {
    let config = try ExperimentsConfig(
      yaml: singleExperiment(extra: "    feedback_ttl: 3600", arms: fixedArms([50, 50])), source: "t.yaml")
    XCTAssertEqual(config.experiments[0].feedbackTTLSeconds, 3600)
    XCTAssertNil(try ExperimentsConfig(yaml: singleExperiment(arms: fixedArms([100])), source: "t.yaml")
      .experiments[0].feedbackTTLSeconds)
    assertRejected(singleExperiment(extra: "    feedback_ttl: 5", arms: fixedArms([100])),
                   mentioning: ["feedback_ttl 5", "from 60"])
    assertRejected(singleExperiment(extra: "    feedback_ttl: \"3600\"", arms: fixedArms([100])),
                   mentioning: ["feedback_ttl", "whole number"])
  }
}

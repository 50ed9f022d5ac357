import XCTest

import Experiments

final class OffPolicySampleConfigTests: XCTestCase {
  func testOffPolicySamplePercentIsReadPerExperimentAndNeedsAShadow() throws {
    let config = try ExperimentsConfig(
      yaml: singleExperiment(extra: "    shadow: popularity\n    ope_sample_percent: 12.5", arms: fixedArms([100])),
      source: "t.yaml")
    XCTAssertEqual(config.experiments[0].opeSamplePercent, 12.5)
    XCTAssertEqual(try ExperimentsConfig(yaml: singleExperiment(arms: fixedArms([100])), source: "t.yaml")
      .experiments[0].opeSamplePercent, 0)
    assertRejected(singleExperiment(extra: "    shadow: popularity\n    ope_sample_percent: 101", arms: fixedArms([100])),
                   mentioning: ["ope_sample_percent 101", "from 0 to 100"])
    assertRejected(singleExperiment(extra: "    ope_sample_percent: 10", arms: fixedArms([100])),
                   mentioning: ["ope_sample_percent needs a shadow"])
  }
}

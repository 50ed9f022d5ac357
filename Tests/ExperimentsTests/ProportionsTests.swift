import XCTest

import Experiments

/// Expected values computed independently in Python 3 with math.erfc / math.sqrt.
final class ProportionsTests: XCTestCase {
  func testWilsonInterval() {
    let interval = Proportions.wilson95(successes: 20, trials: 100)
    XCTAssertEqual(interval.low, 0.1333669333310325, accuracy: 1e-6)
    XCTAssertEqual(interval.high, 0.2888291655931589, accuracy: 1e-6)
    let none = Proportions.wilson95(successes: 0, trials: 50)
    XCTAssertEqual(none.low, 0, accuracy: 1e-6)
    XCTAssertEqual(none.high, 0.07134759913335872, accuracy: 1e-6)
    XCTAssertEqual(Proportions.wilson95(successes: 7, trials: 7).low, 0.6456695649333126, accuracy: 1e-6)
    XCTAssertTrue(Proportions.wilson95(successes: 0, trials: 0) == (0, 1))
  }

  func testTwoProportionZTest() {
    let lower = Proportions.twoProportionZTest(successesA: 20, trialsA: 1000, successesB: 30, trialsB: 1000)
    XCTAssertEqual(lower.z, -1.4322297480788655, accuracy: 1e-6)
    XCTAssertEqual(lower.pValue, 0.15207808079297527, accuracy: 1e-6)
    let higher = Proportions.twoProportionZTest(successesA: 80, trialsA: 1000, successesB: 20, trialsB: 1000)
    XCTAssertEqual(higher.z, 6.155870112510924, accuracy: 1e-6)
    XCTAssertEqual(higher.pValue, 7.466640122442802e-10, accuracy: 1e-12)
    XCTAssertTrue(Proportions.twoProportionZTest(successesA: 0, trialsA: 0, successesB: 3, trialsB: 10) == (0, 1))
    XCTAssertTrue(Proportions.twoProportionZTest(successesA: 0, trialsA: 10, successesB: 0, trialsB: 10) == (0, 1))
  }
}

import XCTest

import Experiments

final class RankAgreementTests: XCTestCase {
  func overlap(_ served: [Int64], _ shadow: [Int64]) -> Double {
    served.withUnsafeBufferPointer { s in shadow.withUnsafeBufferPointer { RankAgreement.overlapAtK(served: s, shadow: $0) } }
  }

  func tau(_ served: [Int64], _ shadow: [Int64]) -> Double? {
    served.withUnsafeBufferPointer { s in shadow.withUnsafeBufferPointer { RankAgreement.kendallTauB(served: s, shadow: $0) } }
  }

  func testOverlapAtK() {
    XCTAssertEqual(overlap([1, 2, 3], [3, 2, 1]), 1)
    // Only the shadow's top 3 counts: 4 is fourth.
    XCTAssertEqual(overlap([1, 2, 4], [1, 9, 2, 4]), 2.0 / 3.0, accuracy: 1e-12)
    XCTAssertEqual(overlap([1, 2], [5, 6]), 0)
    XCTAssertEqual(overlap([1, 2, 3], [1]), 1.0 / 3.0, accuracy: 1e-12)
  }

  func testKendallTau() {
    XCTAssertEqual(tau([1, 2, 3, 4], [1, 2, 3, 4]), 1)
    XCTAssertEqual(tau([1, 2, 3, 4], [4, 3, 2, 1]), -1)
    // Shared items 1, 2, 3; shadow order 2, 1, 3: pairs (1,2) discordant, (1,3) and (2,3) concordant.
    XCTAssertEqual(try XCTUnwrap(tau([1, 2, 3, 7], [2, 9, 1, 3])), 1.0 / 3.0, accuracy: 1e-12)
    XCTAssertNil(tau([1, 2], [2, 5]))
    XCTAssertNil(tau([], [1, 2]))
  }
}

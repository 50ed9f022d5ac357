import PluginHost
import XCTest

/// Which events a reply names as an item's reasons: the 3 largest positive contributions, largest
/// first, ties to the more recent event, never a negative, zero or unused (NaN) one.
final class BecauseSelectionTests: XCTestCase {
  private func top(_ values: [Float]) -> [Int] { values.withUnsafeBufferPointer { BecauseSelection.top($0) } }

  func testLargestPositiveFirst() {
    XCTAssertEqual(top([0.1, 0.5, -2, 0.3, 0.2]), [1, 3, 4])
    XCTAssertEqual(top([0.1, 0.5]), [1, 0])
  }

  func testNegativesZerosAndUnusedAreNeverReasons() {
    XCTAssertEqual(top([-0.1, 0, .nan, 0.2, -3]), [3])
    XCTAssertEqual(top([-1, -2]), [])
    XCTAssertEqual(top([]), [])
  }

  func testTiesGoToTheMoreRecentEvent() {
    XCTAssertEqual(top([0.2, 0.2, 0.2, 0.2]), [3, 2, 1])
    XCTAssertEqual(top([0.3, 0.2, 0.3, 0.1]), [2, 0, 1])
  }
}

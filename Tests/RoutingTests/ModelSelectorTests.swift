import ModelStore
import XCTest

final class ModelSelectorTests: XCTestCase {
  func testParsesTheThreeForms() throws {
    XCTAssertEqual(try ModelSelector(parsing: "mlp"), ModelSelector(model: "mlp"))
    XCTAssertEqual(try ModelSelector(parsing: "mlp@7"), ModelSelector(model: "mlp", version: .number(7)))
    XCTAssertEqual(try ModelSelector(parsing: "ranker-v2.b@stable"), ModelSelector(model: "ranker-v2.b", version: .label("stable")))
  }

  func testRejectsMalformedSelectorsWithAnExample() {
    for text in ["", "@3", "mlp@", "mlp@0", "mlp@07", "mlp@-1", "mlp@3x", "ml p", "mlp@sta ble", "m/lp"] {
      XCTAssertThrowsError(try ModelSelector(parsing: text), text) { error in
        XCTAssertTrue("\(error)".contains("examples"), "\(error)")
      }
    }
  }

  func testDescriptionRoundTrips() throws {
    for text in ["mlp", "mlp@12", "mlp@canary"] {
      XCTAssertEqual(try ModelSelector(parsing: text).description, text)
    }
  }
}

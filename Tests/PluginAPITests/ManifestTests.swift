import PluginAPI
import XCTest

/// Plugins read hyperparameters only through ranges: anything outside, or not a whole number,
/// is refused with the key named (issue 13: -1, 2^40, 2^62 and Int64.max once crashed loads).
final class ManifestTests: XCTestCase {
  func testIntegerWithinRangeIsRead() throws {
    let manifest = try Manifest(json: #"{"kind":"mlp","context_dim":0,"max_history":100000,"one":1}"#)
    XCTAssertEqual(try manifest.integer("context_dim", in: Manifest.Range.featureCount), 0)
    XCTAssertEqual(try manifest.integer("max_history", in: Manifest.Range.maxHistory), 100_000)
    // 1 must not be mistaken for the boolean true.
    XCTAssertEqual(try manifest.integer("one", in: 1...2), 1)
    XCTAssertEqual(try manifest.integer("absent", default: 7, in: 1...8), 7)
  }

  func testOutOfRangeAndNonIntegersAreRefusedWithTheKeyNamed() throws {
    let values = ["-1", "1099511627776", "4611686018427387904", "9223372036854775807", "18446744073709551616",
                  "1e300", "3.0", "1e3", "true", "false", "\"4\"", "null", "[4]", "{\"value\": 4}", "65537"]
    for value in values {
      let manifest = try Manifest(json: #"{"kind":"mlp","context_dim":\#(value)}"#)
      XCTAssertThrowsError(try manifest.integer("context_dim", in: Manifest.Range.featureCount), value) { error in
        let message = "\(error)"
        XCTAssertTrue(message.contains("\"context_dim\""), message)
        XCTAssertTrue(message.contains("0...65536"), message)
      }
    }
  }

  func testMissingRequiredIntegerNamesItsRange() throws {
    let manifest = try Manifest(json: #"{"kind":"lstm"}"#)
    XCTAssertThrowsError(try manifest.integer("num_layers", in: Manifest.Range.depth)) { error in
      XCTAssertTrue("\(error)".contains("\"num_layers\" is required (a whole number in 1...64)"), "\(error)")
    }
  }

  func testNumberOutsideRangeIsRefused() throws {
    for value in ["1e300", "-0.5", "true", "\"0.1\""] {
      let manifest = try Manifest(json: #"{"kind":"dqn","epsilon":\#(value)}"#)
      XCTAssertThrowsError(try manifest.number("epsilon", default: 0, in: 0...1), value) { error in
        XCTAssertTrue("\(error)".contains("\"epsilon\""), "\(error)")
      }
    }
  }
}

import ManifestValue
import ModelStore
import PluginAPI
import XCTest

/// The store (ModelManifest) and the plugins (PluginAPI.Manifest) read model.json values by one
/// rule (ManifestValue): the same text is the same whole number, the same number, or refused by both.
final class ManifestValueTests: XCTestCase {
  /// A value as written in model.json, and what it is as a whole number and as a number (nil: refused).
  static let table: [(json: String, whole: Int?, number: Double?)] = [
    ("3", 3, 3),
    ("-0", 0, 0),
    ("0", 0, 0),
    ("-7", -7, -7),
    ("9223372036854775807", Int.max, 9_223_372_036_854_775_807),
    // Foundation's parser hands negatives this near Int.min over as doubles: not whole for
    // either reader, and no hyperparameter range comes near them.
    ("-9223372036854775808", nil, -9_223_372_036_854_775_808),
    ("-9223372036854775807", nil, -9_223_372_036_854_775_807),
    ("-4294967296", -4_294_967_296, -4_294_967_296),
    ("3.0", nil, 3),
    ("3e0", nil, 3),
    ("3E2", nil, 300),
    ("0.5", nil, 0.5),
    ("1e300", nil, 1e300),
    ("18446744073709551616", nil, 18_446_744_073_709_551_616),
    ("true", nil, nil),
    ("false", nil, nil),
    ("0", 0, 0),
    ("\"4\"", nil, nil),
    ("null", nil, nil),
    ("[4]", nil, nil),
    ("{\"value\": 4}", nil, nil),
  ]

  func testTheStoreAndThePluginsReadEveryValueAlike() throws {
    for row in Self.table {
      let json = #"{"kind":"mlp","count":\#(row.json)}"#
      let value = try XCTUnwrap(ManifestValue.object(json: json)["count"], row.json)
      XCTAssertEqual(value.int, row.whole, row.json)
      XCTAssertEqual(value.double, row.number, row.json)

      let store = try ModelManifest(json: json)
      let plugin = try Manifest(json: json)
      XCTAssertEqual(try? store.integer("count"), row.whole, "store: \(row.json)")
      XCTAssertEqual(try? plugin.integer("count", in: Int.min...Int.max), row.whole, "plugin: \(row.json)")
      XCTAssertEqual(try? store.double("count"), row.number, "store: \(row.json)")
      XCTAssertEqual(try? plugin.number("count", default: -1, in: -.greatestFiniteMagnitude...(.greatestFiniteMagnitude)),
                     row.number, "plugin: \(row.json)")
    }
  }

  func testBooleansAndStringsAreTheirOwnKinds() throws {
    let fields = try ManifestValue.object(json: #"{"on":true,"one":1,"zero":0,"name":"mlp"}"#)
    XCTAssertEqual(fields["on"]?.bool, true)
    XCTAssertNil(fields["on"]?.int, "true is not 1")
    XCTAssertNil(fields["one"]?.bool, "1 is not true")
    XCTAssertNil(fields["zero"]?.bool)
    XCTAssertEqual(fields["name"]?.string, "mlp")
    XCTAssertNil(fields["one"]?.string)
  }

  func testOnlyAnObjectIsAManifestAndBothReadersRefuseTheRest() {
    for text in [#"["mlp"]"#, "3", #""mlp""#, "{", ""] {
      XCTAssertThrowsError(try ManifestValue.object(json: text), text)
      XCTAssertThrowsError(try ModelManifest(json: text), text)
      XCTAssertThrowsError(try Manifest(json: text), text)
    }
  }
}

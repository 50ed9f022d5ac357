import Foundation
import ModelStore
import PluginHost
import SafeTensors
import XCTest

/// The loader over the C "constant" plugin (here because CPluginBuild is): a good version loads
/// and answers; a bad manifest, an unserved kind and a failing warm-up are refused, each saying why.
final class VersionLoaderTests: XCTestCase {
  /// A safetensors file holding `item_ids` (I64) = `ids`.
  private func weights(_ ids: [Int64]) throws -> SafeTensorsFile {
    var header = #"{"item_ids":{"dtype":"I64","shape":[\#(ids.count)],"data_offsets":[0,\#(8 * ids.count)]}}"#
    while header.utf8.count % 8 != 0 { header += " " }
    var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init) + Array(header.utf8)
    for id in ids { bytes += withUnsafeBytes(of: id.littleEndian, Array.init) }
    return try bytes.withUnsafeBytes { try SafeTensorsFile(bytes: $0) }
  }

  private func loader(_ name: String, flags: [String] = []) throws -> VersionLoader {
    VersionLoader(plugins: PluginSet([try Plugin.load(path: CPluginBuild.build(name, flags: flags))]))
  }

  func testAGoodVersionLoadsAndAnswers() throws {
    let loaded = try loader("constant-loader").loadSkippingChecksum(
      manifestJSON: #"{"kind":"constant","description":"four items"}"#, weights: weights([10, 20, 30, 40]),
      model: "c", version: 3)
    XCTAssertEqual(loaded.model.name, "c")
    XCTAssertEqual(loaded.model.version, 3)
    XCTAssertEqual(loaded.description, "four items")
    XCTAssertEqual(try loaded.model.instance.recommend(ModelRequest(candidateItemIDs: [30, 10], topK: 5)).itemIDs, [30, 10])
  }

  func testEachBadVersionIsRefusedSayingWhy() throws {
    let loader = try loader("constant-loader-bad")
    let cases: [(String, String, [String])] = [
      ("a whole number written 3.0", #"{"kind":"constant","context_dim":3.0}"#, ["model.json", "\"context_dim\"", "whole number"]),
      ("out of range", #"{"kind":"constant","max_history":0}"#, ["\"max_history\"", "1...100000"]),
      ("no plugin for the kind", #"{"kind":"nope"}"#, ["no plugin serves kind \"nope\"", "constant"]),
      ("not JSON", #"{"kind":"#, ["model.json", "not valid JSON"]),
    ]
    for (what, manifest, words) in cases {
      XCTAssertThrowsError(try loader.loadSkippingChecksum(manifestJSON: manifest, weights: weights([1, 2])), what) { error in
        XCTAssertTrue(error is LoadError, "\(what): \(error)")
        for word in words { XCTAssertTrue("\(error)".contains(word), "\(what): \(error)") }
      }
    }
  }

  func testAVersionWhoseWarmUpFailsIsRefused() throws {
    for (name, flags, words) in [("constant-refuses", ["-DREFUSE"], "refused by request"),
                                 ("constant-nan", ["-DBROKEN=4"], "NaN")] {
      XCTAssertThrowsError(try loader(name, flags: flags).loadSkippingChecksum(
        manifestJSON: #"{"kind":"constant"}"#, weights: weights([10, 20]))) { error in
        XCTAssertTrue("\(error)".contains("the warm-up request failed"), "\(name): \(error)")
        XCTAssertTrue("\(error)".lowercased().contains(words.lowercased()), "\(name): \(error)")
      }
    }
  }
}

import PluginHost
import RecSysStatus
import XCTest

/// A plugin built against an older minor (shorter record, no set_host_abi) and one built against a
/// newer minor (longer record with a field this host does not know) both load and serve.
final class ABISkewTests: XCTestCase {
  func testAnOlderPluginLoadsServesAndIsNeverCalledPastItsRecord() throws {
    let library = try CPluginBuild.build("constant-1-1", flags: ["-DABI_MINOR=1"])
    let plugin = try Plugin.load(path: library)
    XCTAssertEqual(plugin.abiVersion, "1.1")
    // Its record holds junk where set_host_abi would be: calling it would have crashed.
    XCTAssertEqual(CPluginBuild.toldHostMinor(library), 0)
    let model = try ConstantModel(plugin)
    let answer = try model.instance.recommend(ModelRequest(candidateItemIDs: [30, 99, 10], topK: 5))
    XCTAssertEqual(answer.itemIDs, [30, 10])
    XCTAssertEqual(answer.scores, [1, 1 - 2 / 1000])
    XCTAssertEqual(answer.unknownItemIDs, [99])
    // Exclusions it cannot know of are refused rather than silently ignored.
    let excluding = ModelRequest(candidateItemIDs: [30, 10], topK: 5, exclusions: excluding([30]))
    XCTAssertThrowsError(try model.instance.recommend(excluding)) { error in
      XCTAssertEqual((error as? PluginError)?.code, .failedPrecondition)
      XCTAssertTrue("\(error)".contains("ABI 1.1"), "\(error)")
    }
  }

  func testANewerPluginIsToldTheHostsMinorAndServesWithExclusions() throws {
    let library = try CPluginBuild.build("constant-1-9", flags: ["-DABI_MINOR=9"])
    let plugin = try Plugin.load(path: library)
    XCTAssertEqual(plugin.abiVersion, "1.9")
    XCTAssertEqual(CPluginBuild.toldHostMinor(library), 3, "set_host_abi(1, RECSYS_PLUGIN_ABI_MINOR)")
    XCTAssertEqual(Plugin.hostABIVersion, "1.3")
    let model = try ConstantModel(plugin)
    XCTAssertEqual(try model.instance.recommend(ModelRequest(candidateItemIDs: [40, 20], topK: 5)).itemIDs, [40, 20])
    let answer = try model.instance.recommend(ModelRequest(candidateItemIDs: [40, 20, 10], topK: 5,
                                                           exclusions: excluding([40])))
    XCTAssertEqual(answer.itemIDs, [20, 10], "the newer plugin reads the 1.2 exclusions this host said it fills")
  }

  private func excluding(_ ids: [Int64]) -> ItemExclusions {
    ids.withUnsafeBufferPointer { ItemExclusions(requestItemIDs: $0, namedSets: []) }
  }
}

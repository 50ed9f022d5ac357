import Foundation
import SafeTensors
import XCTest

/// Tests/Fixtures/golden/index.json (written by tools/make_fixtures.py) against the fixture
/// directories: a fixture added to the generator but not copied, or a stale index, fails here.
final class GoldenIndexTests: XCTestCase {
  struct Entry: Decodable {
    var name: String
    var kind: String
    var model_dir: String
    var cases: String
    var num_cases: Int
    var num_items: Int
    var dim: Int
  }

  func testIndexListsEveryFixtureDirectoryAndMatchesItsFiles() throws {
    let root = GoldenFixture.root
    let entries = try JSONDecoder().decode([Entry].self, from: Data(contentsOf: root.appendingPathComponent("index.json")))
    let directories = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { name in
      FileManager.default.fileExists(atPath: root.appendingPathComponent("\(name)/cases.json").path)
    }
    XCTAssertEqual(entries.map(\.name).sorted(), directories.sorted(), "index.json vs fixture directories")
    for entry in entries {
      let fixture = try GoldenFixture(entry.name)
      XCTAssertEqual(fixture.manifest.kind, entry.kind, entry.name)
      XCTAssertEqual(fixture.cases.count, entry.num_cases, "\(entry.name): num_cases")
      XCTAssertEqual(fixture.catalogItemIDs.count, entry.num_items, "\(entry.name): num_items")
      let weights = try SafeTensorsFile(path: root.appendingPathComponent("\(entry.model_dir)/weights.safetensors").path)
      XCTAssertEqual(weights.tensor(named: "item_emb.weight")?.shape, [entry.num_items, entry.dim], "\(entry.name): item_emb")
    }
  }
}

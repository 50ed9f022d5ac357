import Foundation
import FuzzTargets
import XCTest

/// Every committed seed and every regression input (a crash found once) runs through its
/// target in-process: a crash fixed once stays fixed.
final class CorpusReplayTests: XCTestCase {
  static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fuzz")

  func testEveryTargetHasASeedCorpus() throws {
    XCTAssertFalse(FuzzTargets.all.isEmpty)
    for target in FuzzTargets.all {
      let seeds = inputs(in: "corpus/\(target.name)")
      XCTAssertFalse(seeds.isEmpty, "Tests/Fuzz/corpus/\(target.name)/ has no seed input")
    }
  }

  func testCorpusAndRegressionsReplay() throws {
    for target in FuzzTargets.all {
      for file in inputs(in: "corpus/\(target.name)") + inputs(in: "regressions/\(target.name)") {
        let data = try Data(contentsOf: file)
        data.withUnsafeBytes { target.run($0) }
      }
    }
  }

  private func inputs(in folder: String) -> [URL] {
    let directory = Self.fuzzRoot.appendingPathComponent(folder)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0 != "README.md" }.sorted().map { directory.appendingPathComponent($0) }
  }
}

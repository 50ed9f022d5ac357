import XCTest

import ModelStore

final class StoreLayoutTests: XCTestCase {
  private var root: URL!

  override func setUpWithError() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("StoreLayoutTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: root)
  }

  /// Creates `<root>/<relative>` and, inside it, each of `files` (empty).
  private func make(_ relative: String, files: [String] = []) throws {
    let directory = root.appendingPathComponent(relative)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for name in files {
      XCTAssertTrue(FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: Data()))
    }
  }

  private let both = [StoreLayout.manifestFileName, StoreLayout.weightsFileName]

  func testListsModelNamesSkippingHiddenFoldersAndFiles() throws {
    try make("ranker")
    try make("sequence")
    try make(".trash")
    XCTAssertTrue(FileManager.default.createFile(atPath: root.appendingPathComponent("README").path, contents: Data()))

    XCTAssertEqual(try StoreLayout(root: root.path).modelNames(), ["ranker", "sequence"])
  }

  func testVersionsAreNumericFoldersWithBothFiles() throws {
    for version in ["1", "2", "10"] {
      try make("ranker/\(version)", files: both)
    }
    // Not versions: staging, leading zero, sign, suffix, zero, too large, a plain file.
    for name in [".staging-3", "03", "+4", "5a", "0", "99999999999999999999999"] {
      try make("ranker/\(name)", files: both)
    }
    XCTAssertTrue(FileManager.default.createFile(atPath: root.appendingPathComponent("ranker/7").path, contents: Data()))
    // Incomplete: one file each missing.
    try make("ranker/11", files: [StoreLayout.manifestFileName])
    try make("ranker/12", files: [StoreLayout.weightsFileName])

    let layout = StoreLayout(root: root.path)
    let scan = try layout.scanVersions(of: "ranker")

    XCTAssertEqual(scan.complete.map(\.number), [1, 2, 10])
    XCTAssertEqual(scan.incomplete.map(\.number), [11, 12])
    XCTAssertEqual(scan.incomplete[0].missingFiles, [StoreLayout.weightsFileName])
    XCTAssertEqual(scan.incomplete[1].missingFiles, [StoreLayout.manifestFileName])
    XCTAssertTrue(scan.incomplete[0].description.contains("ranker/11"))
    XCTAssertTrue(scan.incomplete[0].description.contains("lacks weights.safetensors"))

    let highest = try XCTUnwrap(try layout.highestVersion(of: "ranker"))
    XCTAssertEqual(highest.model, "ranker")
    XCTAssertEqual(highest.number, 10)
    XCTAssertEqual(highest.directory, root.path + "/ranker/10")
    XCTAssertEqual(highest.manifestPath, root.path + "/ranker/10/model.json")
    XCTAssertEqual(highest.weightsPath, root.path + "/ranker/10/weights.safetensors")
    XCTAssertEqual(try layout.versions(of: "ranker").map(\.number), [1, 2, 10])
  }

  func testRequiredFileThatIsADirectoryDoesNotCount() throws {
    try make("ranker/1", files: [StoreLayout.weightsFileName])
    try make("ranker/1/model.json")

    let scan = try StoreLayout(root: root.path).scanVersions(of: "ranker")
    XCTAssertTrue(scan.complete.isEmpty)
    XCTAssertEqual(scan.incomplete.first?.missingFiles, [StoreLayout.manifestFileName])
  }

  func testModelWithoutCompleteVersions() throws {
    try make("ranker/.staging-1", files: both)
    XCTAssertNil(try StoreLayout(root: root.path).highestVersion(of: "ranker"))
  }

  func testVersionFolderNames() {
    XCTAssertEqual(StoreLayout.versionNumber(folderName: "1"), 1)
    XCTAssertEqual(StoreLayout.versionNumber(folderName: "42"), 42)
    for name in ["", "0", "00", "03", "+3", "-3", "3a", "3.0", " 3", ".staging-3", "٣", "99999999999999999999999"] {
      XCTAssertNil(StoreLayout.versionNumber(folderName: name), name)
    }
  }

  func testMissingStoreAndModel() throws {
    let missingStore = StoreLayout(root: root.path + "/absent")
    XCTAssertThrowsError(try missingStore.modelNames()) { error in
      let error = error as? StoreLayoutError
      XCTAssertEqual(error?.code, .storeNotFound)
      XCTAssertTrue(error?.description.contains(root.path + "/absent") ?? false)
    }
    XCTAssertThrowsError(try StoreLayout(root: root.path).highestVersion(of: "ghost")) { error in
      let error = error as? StoreLayoutError
      XCTAssertEqual(error?.code, .modelNotFound)
      XCTAssertTrue(error?.description.contains(self.root.path + "/ghost") ?? false)
    }
    XCTAssertTrue(FileManager.default.createFile(atPath: root.appendingPathComponent("plain").path, contents: Data()))
    XCTAssertThrowsError(try StoreLayout(root: root.path + "/plain").modelNames()) { error in
      XCTAssertEqual((error as? StoreLayoutError)?.code, .notADirectory)
    }
  }
}

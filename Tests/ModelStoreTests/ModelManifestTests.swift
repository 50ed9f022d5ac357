import Foundation
import XCTest

import ModelStore

final class ModelManifestTests: XCTestCase {
  func testReadsKindChecksumDescriptionAndKeepsTextUnchanged() throws {
    let text = """
      {"kind": "mlp", "context_dim": 8, "candidate_feature_dim": 0, "max_history": 50,
       "sha256": "\(String(repeating: "AB", count: 32))", "description": "ranker v3", "epsilon": 0.1}
      """
    let manifest = try ModelManifest(json: text, path: "/store/ranker/3/model.json")

    XCTAssertEqual(manifest.kind, "mlp")
    XCTAssertEqual(manifest.sha256, String(repeating: "ab", count: 32))
    XCTAssertEqual(manifest.description, "ranker v3")
    XCTAssertEqual(manifest.json, text)
    XCTAssertEqual(manifest.path, "/store/ranker/3/model.json")
  }

  func testIntegerAccessor() throws {
    let manifest = try ModelManifest(
      json: #"{"kind":"mlp","context_dim":8,"candidate_feature_dim":0,"one":1,"ratio":0.5,"whole":3.0,"flag":true,"name":"x"}"#)

    XCTAssertEqual(try manifest.integer("context_dim"), 8)
    // 0 and 1 must not be mistaken for booleans.
    XCTAssertEqual(try manifest.integer("candidate_feature_dim"), 0)
    XCTAssertEqual(try manifest.integer("one"), 1)
    XCTAssertEqual(try manifest.integer("absent", default: 7), 7)

    assertManifestError(code: .missingKey, key: "absent", phrases: ["\"absent\" is required"]) {
      _ = try manifest.integer("absent")
    }
    for (key, found) in [("ratio", "the number 0.5"), ("whole", "the number 3.0"), ("flag", "the boolean true"), ("name", "the string \"x\"")] {
      assertManifestError(code: .wrongType, key: key, phrases: ["must be a whole number", found]) {
        _ = try manifest.integer(key)
      }
    }
  }

  func testKnownHyperparametersOutsideTheirRangesAreRefusedAtParse() {
    // The crash values of issue 13 and their relatives, on every key models.md defines.
    let outOfRange = ["-1", "1099511627776", "4611686018427387904", "9223372036854775807"]
    for (key, range) in ModelManifest.hyperparameterRanges {
      for value in outOfRange + ["\(range.upperBound + 1)"] {
        assertManifestError(code: .invalidValue, key: key, phrases: ["\"\(key)\" must be a whole number in \(range.lowerBound)...\(range.upperBound)"]) {
          _ = try ModelManifest(json: #"{"kind":"popularity","\#(key)":\#(value)}"#)
        }
      }
      for value in ["1e300", "3.0", "true", "\"4\"", "{\"a\": 1}", "[1]", "18446744073709551616"] {
        assertManifestError(code: .wrongType, key: key, phrases: ["\"\(key)\" must be a whole number"]) {
          _ = try ModelManifest(json: #"{"kind":"popularity","\#(key)":\#(value)}"#)
        }
      }
    }
    for value in ["1e300", "-0.1", "1.5"] {
      assertManifestError(code: .invalidValue, key: "epsilon", phrases: ["\"epsilon\" must be a probability"]) {
        _ = try ModelManifest(json: #"{"kind":"dqn","epsilon":\#(value)}"#)
      }
    }
    XCTAssertNoThrow(try ModelManifest(json: #"{"kind":"mlp","context_dim":65536,"candidate_feature_dim":0,"max_history":100000}"#))
  }

  func testRangedIntegerAccessor() throws {
    let manifest = try ModelManifest(json: #"{"kind":"mlp","count":5}"#)
    XCTAssertEqual(try manifest.integer("count", in: 0...5), 5)
    XCTAssertEqual(try manifest.integer("absent", default: 0, in: 0...5), 0)
    assertManifestError(code: .invalidValue, key: "count", phrases: ["\"count\" must be a whole number in 0...4, but is 5"]) {
      _ = try manifest.integer("count", in: 0...4)
    }
  }

  func testDoubleAccessor() throws {
    let manifest = try ModelManifest(json: #"{"kind":"dqn","epsilon":0.25,"count":2,"flag":false}"#)

    XCTAssertEqual(try manifest.double("epsilon"), 0.25)
    XCTAssertEqual(try manifest.double("count"), 2)
    XCTAssertEqual(try manifest.double("absent", default: 0), 0)
    assertManifestError(code: .wrongType, key: "flag", phrases: ["must be a number", "the boolean false"]) {
      _ = try manifest.double("flag")
    }
    assertManifestError(code: .missingKey, key: "absent", phrases: ["\"absent\" is required"]) {
      _ = try manifest.double("absent")
    }
  }

  func testKindIsRequiredAndNonEmpty() {
    let cases: [(text: String, code: ModelManifestError.Code, phrase: String)] = [
      (#"{"max_history": 5}"#, .missingKey, "it is missing"),
      (#"{"kind": ""}"#, .wrongType, "the string \"\""),
      (#"{"kind": 3}"#, .wrongType, "the number 3"),
    ]
    for (text, code, phrase) in cases {
      assertManifestError(code: code, key: "kind", phrases: ["non-empty string", phrase]) {
        _ = try ModelManifest(json: text, path: "/store/m/1/model.json")
      }
    }
  }

  func testOptionalStringsMustBeStrings() {
    assertManifestError(code: .wrongType, key: "description", phrases: ["must be a string"]) {
      _ = try ModelManifest(json: #"{"kind":"mlp","description":["a"]}"#, path: "/store/m/1/model.json")
    }
    assertManifestError(code: .wrongType, key: "sha256", phrases: ["must be a string"]) {
      _ = try ModelManifest(json: #"{"kind":"mlp","sha256":12}"#, path: "/store/m/1/model.json")
    }
  }

  func testChecksumMustBeSixtyFourHexDigits() {
    assertManifestError(code: .invalidValue, key: "sha256", phrases: ["64 hexadecimal digits", "\"abc\""]) {
      _ = try ModelManifest(json: #"{"kind":"mlp","sha256":"abc"}"#, path: "/store/m/1/model.json")
    }
  }

  func testInvalidJSONAndNonObject() {
    assertManifestError(code: .invalidJSON, key: nil, phrases: ["not valid JSON"]) {
      _ = try ModelManifest(json: #"{"kind": "mlp""#, path: "/store/m/1/model.json")
    }
    assertManifestError(code: .invalidJSON, key: nil, phrases: ["an array", "must be an object"]) {
      _ = try ModelManifest(json: #"["mlp"]"#, path: "/store/m/1/model.json")
    }
  }

  func testReadsFromDiskAndNamesAMissingFile() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ModelManifestTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.json").path
    try #"{"kind":"sasrec","num_blocks":2}"#.write(toFile: path, atomically: true, encoding: .utf8)

    let manifest = try ModelManifest(contentsOf: path)
    XCTAssertEqual(manifest.kind, "sasrec")
    XCTAssertEqual(try manifest.integer("num_blocks"), 2)
    XCTAssertEqual(manifest.path, path)

    let missing = directory.appendingPathComponent("absent.json").path
    assertManifestError(code: .cannotRead, key: nil, path: missing, phrases: ["cannot read"]) {
      _ = try ModelManifest(contentsOf: missing)
    }
  }

  func testAFIFOOrAHugeFileIsRefusedWithoutBlocking() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ModelManifestTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    // Opening a FIFO for reading blocks until a writer comes: that would wedge the store's loader.
    let fifo = directory.appendingPathComponent("model.json").path
    XCTAssertEqual(mkfifo(fifo, 0o600), 0)
    assertManifestError(code: .cannotRead, key: nil, path: fifo, phrases: ["not a regular file"]) {
      _ = try ModelManifest(contentsOf: fifo)
    }
    let huge = directory.appendingPathComponent("huge.json").path
    try Data(repeating: 0x20, count: ModelManifest.maximumByteCount + 1).write(to: URL(fileURLWithPath: huge))
    assertManifestError(code: .cannotRead, key: nil, path: huge, phrases: ["limit"]) {
      _ = try ModelManifest(contentsOf: huge)
    }
  }

  /// Runs `body`, expecting a ModelManifestError with this code and key whose description names
  /// the file and contains each phrase.
  private func assertManifestError(
    code: ModelManifestError.Code, key: String?, path: String? = nil, phrases: [String],
    file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
  ) {
    do {
      try body()
      XCTFail("expected \(code)", file: file, line: line)
    } catch let error as ModelManifestError {
      XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
      XCTAssertEqual(error.key, key, "\(error)", file: file, line: line)
      if let path {
        XCTAssertEqual(error.path, path, file: file, line: line)
      }
      XCTAssertTrue(error.description.contains(error.path), "\(error)", file: file, line: line)
      if let key {
        XCTAssertTrue(error.description.contains("\"\(key)\""), "\(error)", file: file, line: line)
      }
      for phrase in phrases {
        XCTAssertTrue(error.description.contains(phrase), "'\(phrase)' not in: \(error)", file: file, line: line)
      }
    } catch {
      XCTFail("expected ModelManifestError, got \(error)", file: file, line: line)
    }
  }
}

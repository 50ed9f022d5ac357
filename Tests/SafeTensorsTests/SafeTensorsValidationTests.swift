import Foundation
import XCTest

import SafeTensors

/// Damaged files: each is rejected with its own code and a message that names the file, the
/// tensor where there is one, and the problem.
final class SafeTensorsValidationTests: TemporaryDirectoryTestCase {
  // MARK: - Helpers

  /// Opens `bytes` as a file and checks the error's code, tensor, and that its description
  /// names the file and contains every one of `phrases`.
  private func assertRejected(
    _ bytes: [UInt8], code: SafeTensorsError.Code, tensor: String? = nil, phrases: [String],
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let path = try write(bytes)
    assertRejected(path: path, code: code, tensor: tensor, phrases: phrases, file: file, line: line)
  }

  private func assertRejected(
    path: String, code: SafeTensorsError.Code, tensor: String? = nil, phrases: [String],
    file: StaticString = #filePath, line: UInt = #line
  ) {
    do {
      let opened = try SafeTensorsFile(path: path)
      XCTFail("expected \(code), but the file opened with \(opened.tensors.count) tensors", file: file, line: line)
    } catch let error as SafeTensorsError {
      XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
      XCTAssertEqual(error.path, path, file: file, line: line)
      XCTAssertEqual(error.tensorName, tensor, "\(error)", file: file, line: line)
      let description = error.description
      XCTAssertTrue(description.contains(path), "no file in: \(description)", file: file, line: line)
      if let tensor {
        XCTAssertTrue(description.contains("'\(tensor)'"), "no tensor in: \(description)", file: file, line: line)
      }
      for phrase in phrases {
        XCTAssertTrue(description.contains(phrase), "'\(phrase)' not in: \(description)", file: file, line: line)
      }
    } catch {
      XCTFail("expected SafeTensorsError, got \(error)", file: file, line: line)
    }
  }

  /// A file whose single tensor "w" has the given header entry and an 8-byte buffer.
  private func singleEntry(_ entry: String, buffer: [UInt8] = Array(repeating: 0, count: 8)) -> [UInt8] {
    SafeTensorsFileBuilder.file(header: "{\"w\":\(entry)}", buffer: buffer)
  }

  // MARK: - Opening and the length field

  func testMissingFile() {
    let path = directory.appendingPathComponent("absent.safetensors").path
    assertRejected(path: path, code: .cannotOpen, phrases: ["cannot open", "No such file"])
  }

  func testDirectoryInsteadOfFile() {
    assertRejected(path: directory.path, code: .cannotOpen, phrases: ["not a regular file"])
  }

  func testFIFOIsRefusedWithoutBlocking() throws {
    let path = directory.appendingPathComponent("weights.safetensors").path
    XCTAssertEqual(mkfifo(path, 0o600), 0)
    XCTAssertThrowsError(try SafeTensorsFile(path: path)) { error in
      XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
    }
  }

  func testEmptyFile() throws {
    try assertRejected([], code: .fileTooShort, phrases: ["0 bytes", "8-byte header length"])
  }

  func testFileShorterThanLengthField() throws {
    try assertRejected([1, 0, 0, 0, 0], code: .fileTooShort, phrases: ["5 bytes"])
  }

  func testHeaderLengthZero() throws {
    try assertRejected(
      SafeTensorsFileBuilder.file(headerLength: 0, rest: Array("{}".utf8)),
      code: .headerLengthZero, phrases: ["header length is 0"])
  }

  func testHeaderLengthAboveCap() throws {
    let length = UInt64(SafeTensorsFile.maximumHeaderByteCount + 1)
    try assertRejected(
      SafeTensorsFileBuilder.file(headerLength: length, rest: Array("{}".utf8)),
      code: .headerTooLarge, phrases: ["\(length) bytes", "limit"])
  }

  func testHeaderLengthFarAboveCapDoesNotOverflow() throws {
    try assertRejected(
      SafeTensorsFileBuilder.file(headerLength: UInt64.max, rest: Array("{}".utf8)),
      code: .headerTooLarge, phrases: ["limit"])
  }

  func testHeaderLengthBeyondFile() throws {
    try assertRejected(
      SafeTensorsFileBuilder.file(headerLength: 64, rest: Array("{}".utf8)),
      code: .headerBeyondFile, phrases: ["64 bytes", "only 2 bytes", "truncated"])
  }

  // MARK: - The header as a whole

  func testHeaderNotUTF8() throws {
    // "{}" in UTF-16 with a byte-order mark: JSON, but not UTF-8.
    let utf16 = Array("{}".data(using: .utf16)!)
    try assertRejected(
      SafeTensorsFileBuilder.file(headerLength: UInt64(utf16.count), rest: utf16),
      code: .headerNotUTF8, phrases: ["UTF-8"])
    // A stray byte inside an otherwise valid UTF-8 header.
    let stray = Array("{\"w".utf8) + [0xC3] + Array("\":{}}".utf8)
    try assertRejected(
      SafeTensorsFileBuilder.file(headerLength: UInt64(stray.count), rest: stray),
      code: .headerNotUTF8, phrases: ["UTF-8"])
  }

  func testHeaderInvalidJSON() throws {
    try assertRejected(
      SafeTensorsFileBuilder.file(header: #"{"w": {"dtype": "F32""#, buffer: []),
      code: .headerInvalidJSON, phrases: ["not valid JSON"])
  }

  func testHeaderNotObject() throws {
    try assertRejected(
      SafeTensorsFileBuilder.file(header: "[1, 2]", buffer: []),
      code: .headerNotObject, phrases: ["not an object"])
  }

  // MARK: - One tensor entry

  func testEntryNotObject() throws {
    try assertRejected(singleEntry("[0, 8]"), code: .entryNotObject, tensor: "w", phrases: ["an array", "must be an object"])
  }

  func testMissingFields() throws {
    let entries = [
      "dtype": #"{"shape":[2],"data_offsets":[0,8]}"#,
      "shape": #"{"dtype":"F32","data_offsets":[0,8]}"#,
      "data_offsets": #"{"dtype":"F32","shape":[2]}"#,
    ]
    for (field, entry) in entries {
      try assertRejected(singleEntry(entry), code: .missingField, tensor: "w", phrases: ["no \"\(field)\""])
    }
  }

  func testWrongFieldTypes() throws {
    let cases: [(entry: String, phrase: String)] = [
      (#"{"dtype":32,"shape":[2],"data_offsets":[0,8]}"#, "\"dtype\" is the number 32"),
      (#"{"dtype":"F32","shape":"2","data_offsets":[0,8]}"#, "\"shape\" is a string"),
      (#"{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}"#, "dimension 0 is the number 2.5"),
      (#"{"dtype":"F32","shape":[true],"data_offsets":[0,8]}"#, "dimension 0 is a boolean"),
      (#"{"dtype":"F32","shape":[2],"data_offsets":[8]}"#, "two whole numbers"),
      (#"{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}"#, "two whole numbers"),
      (#"{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}"#, "two whole numbers"),
      (#"{"dtype":"F32","shape":[2],"data_offsets":null}"#, "\"data_offsets\" is null"),
    ]
    for (entry, phrase) in cases {
      try assertRejected(singleEntry(entry), code: .wrongFieldType, tensor: "w", phrases: [phrase])
    }
  }

  func testUnknownDType() throws {
    try assertRejected(
      singleEntry(#"{"dtype":"float32","shape":[2],"data_offsets":[0,8]}"#),
      code: .unknownDType, tensor: "w", phrases: ["unknown dtype \"float32\"", "F32"])
  }

  func testSubByteDTypeIsUnsupportedRatherThanUnknown() throws {
    try assertRejected(
      singleEntry(#"{"dtype":"F4","shape":[16],"data_offsets":[0,8]}"#),
      code: .unsupportedDType, tensor: "w", phrases: ["\"F4\"", "smaller than a byte"])
  }

  func testNegativeDimension() throws {
    try assertRejected(
      singleEntry(#"{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}"#),
      code: .negativeDimension, tensor: "w", phrases: ["dimension 1 is -1"])
  }

  func testElementCountOverflow() throws {
    let entries = [
      // The product of the dimensions overflows.
      #"{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}"#,
      // The element count fits, but not in bytes.
      #"{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}"#,
      // One dimension alone is beyond Int.
      #"{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}"#,
    ]
    for entry in entries {
      try assertRejected(singleEntry(entry), code: .elementCountOverflow, tensor: "w", phrases: ["shape", "corrupt"])
    }
  }

  func testBeginAfterEnd() throws {
    try assertRejected(
      singleEntry(#"{"dtype":"F32","shape":[0],"data_offsets":[8,0]}"#),
      code: .invalidOffsets, tensor: "w", phrases: ["[8, 0]", "begin after they end"])
  }

  func testNegativeOffset() throws {
    try assertRejected(
      singleEntry(#"{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}"#),
      code: .invalidOffsets, tensor: "w", phrases: ["-8"])
  }

  func testByteLengthMismatch() throws {
    try assertRejected(
      singleEntry(#"{"dtype":"F32","shape":[3],"data_offsets":[0,8]}"#),
      code: .byteLengthMismatch, tensor: "w", phrases: ["8 bytes", "needs 3 × 4 = 12 bytes"])
  }

  // MARK: - Entries against the file and each other

  func testRangeBeyondBuffer() throws {
    try assertRejected(
      singleEntry(#"{"dtype":"F32","shape":[4],"data_offsets":[0,16]}"#),
      code: .dataOutOfBounds, tensor: "w", phrases: ["[0, 16]", "8 data bytes", "truncated"])
  }

  func testOffsetBeyondAnyFile() throws {
    try assertRejected(
      singleEntry(#"{"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}"#),
      code: .dataOutOfBounds, tensor: "w", phrases: ["beyond any file size"])
  }

  func testOverlappingTensors() throws {
    let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
    try assertRejected(
      SafeTensorsFileBuilder.file(header: header, buffer: Array(repeating: 0, count: 12)),
      code: .overlappingTensors, tensor: "b", phrases: ["overlap", "tensor 'a' [0, 8]"])
  }

  func testTensorContainedInAnother() throws {
    let header = #"{"outer":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"inner":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#
    try assertRejected(
      SafeTensorsFileBuilder.file(header: header, buffer: Array(repeating: 0, count: 8)),
      code: .overlappingTensors, tensor: "inner", phrases: ["tensor 'outer'"])
  }

  func testMisalignedData() throws {
    // Unpadded, the 58-byte header puts the data at file offset 66: fine for U8, not for F32.
    let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
    let bytes = SafeTensorsFileBuilder.file(header: header, buffer: [0, 0, 0, 0], padToEight: false)
    let offset = 8 + header.utf8.count
    XCTAssertNotEqual(offset % 4, 0, "the test needs a header length that misaligns F32")
    try assertRejected(
      bytes, code: .misalignedData, tensor: "w", phrases: ["file offset \(offset)", "multiple of 4"])
  }

  func testMetadataValueNotString() throws {
    let header = #"{"__metadata__":{"format":"pt","epochs":3}}"#
    try assertRejected(
      SafeTensorsFileBuilder.file(header: header, buffer: []),
      code: .invalidMetadata, phrases: ["key 'epochs'", "the number 3", "must be a string"])
  }

  func testMetadataNotObject() throws {
    try assertRejected(
      SafeTensorsFileBuilder.file(header: #"{"__metadata__":["pt"]}"#, buffer: []),
      code: .invalidMetadata, phrases: ["an array"])
  }
}

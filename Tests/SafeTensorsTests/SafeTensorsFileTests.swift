import XCTest

import SafeTensors

/// Well-formed files: what the reader hands out.
final class SafeTensorsFileTests: TemporaryDirectoryTestCase {
  func testReadsTensorsMetadataAndOrder() throws {
    var builder = SafeTensorsFileBuilder()
    builder.metadata = ["format": "pt", "trained_on": "2024-05-01"]
    builder.add("item_ids", int64s: [9_000_000_000_001, -7, 42], shape: [3])
    builder.add("item_emb.weight", floats: [0.5, -1.25, 2, 3.5, -0.125, 1e-3], shape: [3, 2])
    builder.add("mlp.0.bias", floats: [1, -2], shape: [2])
    let path = try write(builder.bytes())

    let file = try SafeTensorsFile(path: path)

    XCTAssertEqual(file.path, path)
    XCTAssertEqual(file.metadata, ["format": "pt", "trained_on": "2024-05-01"])
    XCTAssertEqual(file.tensors.map(\.name), ["item_ids", "item_emb.weight", "mlp.0.bias"])
    XCTAssertEqual(file.byteCount, builder.bytes().count)
    XCTAssertEqual(file.dataOffset % 8, 0)

    let ids = try XCTUnwrap(file.tensor(named: "item_ids"))
    XCTAssertEqual(ids.dtype, .int64)
    XCTAssertEqual(ids.shape, [3])
    XCTAssertEqual(ids.elementCount, 3)
    XCTAssertEqual(ids.data.count, 24)
    XCTAssertEqual(Array(ids.int64s), [9_000_000_000_001, -7, 42])

    let embedding = try XCTUnwrap(file.tensor(named: "item_emb.weight"))
    XCTAssertEqual(embedding.dtype, .float32)
    XCTAssertEqual(embedding.shape, [3, 2])
    XCTAssertEqual(embedding.elementCount, 6)
    XCTAssertEqual(Array(embedding.floats), [0.5, -1.25, 2, 3.5, -0.125, 1e-3])

    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "mlp.0.bias")).floats), [1, -2])
    XCTAssertNil(file.tensor(named: "mlp.1.bias"))
  }

  func testTensorsAreListedInOffsetOrderNotHeaderOrder() throws {
    // Header names "a" first, but its data comes after "b"'s.
    let header = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
    let path = try write(SafeTensorsFileBuilder.file(header: header, buffer: [1, 2, 3, 4]))

    let file = try SafeTensorsFile(path: path)

    XCTAssertEqual(file.tensors.map(\.name), ["b", "a"])
    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "a")).uint8s), [3, 4])
  }

  func testScalarAndEmptyTensors() throws {
    var builder = SafeTensorsFileBuilder()
    builder.add("temperature", floats: [0.75], shape: [])
    builder.add("nothing", floats: [], shape: [0, 4])
    let file = try SafeTensorsFile(path: try write(builder.bytes()))

    let scalar = try XCTUnwrap(file.tensor(named: "temperature"))
    XCTAssertEqual(scalar.shape, [])
    XCTAssertEqual(scalar.elementCount, 1)
    XCTAssertEqual(Array(scalar.floats), [0.75])

    let empty = try XCTUnwrap(file.tensor(named: "nothing"))
    XCTAssertEqual(empty.shape, [0, 4])
    XCTAssertEqual(empty.elementCount, 0)
    XCTAssertEqual(empty.floats.count, 0)
  }

  func testEmptyTensorMayShareAnOffsetWithItsNeighbour() throws {
    // The Python writer gives an empty tensor the offset of the next one.
    let header = #"{"empty":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
    let buffer = SafeTensorsFileBuilder.littleEndianBytes([Float(1).bitPattern, Float(2).bitPattern])
    let file = try SafeTensorsFile(path: try write(SafeTensorsFileBuilder.file(header: header, buffer: buffer)))

    XCTAssertEqual(file.tensors.map(\.name), ["x", "empty"])
    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "x")).floats), [1, 2])
  }

  func testHeaderWithNoTensors() throws {
    let file = try SafeTensorsFile(path: try write(SafeTensorsFileBuilder.file(header: "{}", buffer: [])))
    XCTAssertTrue(file.tensors.isEmpty)
    XCTAssertTrue(file.metadata.isEmpty)
  }

  func testTypedAccessorsForOtherDTypes() throws {
    var builder = SafeTensorsFileBuilder()
    builder.add(
      "scale", dtype: "F64", shape: [2],
      bytes: SafeTensorsFileBuilder.littleEndianBytes([(0.25 as Double).bitPattern, (-8.5 as Double).bitPattern]))
    builder.add("counts", dtype: "I32", shape: [2], bytes: SafeTensorsFileBuilder.littleEndianBytes([Int32(-3), 70_000]))
    // Larger element types first, as the Python writer does, so every tensor stays aligned.
    builder.add("half", dtype: "BF16", shape: [1], bytes: [0x80, 0x3f])
    builder.add("mask", dtype: "U8", shape: [3], bytes: [0, 1, 255])
    let file = try SafeTensorsFile(path: try write(builder.bytes()))

    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "scale")).doubles), [0.25, -8.5])
    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "counts")).int32s), [-3, 70_000])
    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "mask")).uint8s), [0, 1, 255])
    let half = try XCTUnwrap(file.tensor(named: "half"))
    XCTAssertEqual(half.dtype, .bfloat16)
    XCTAssertEqual(Array(half.data), [0x80, 0x3f])
  }

  func testDTypeByteSizes() {
    XCTAssertEqual(DType(rawValue: "F64")?.byteSize, 8)
    XCTAssertEqual(DType(rawValue: "F32")?.byteSize, 4)
    XCTAssertEqual(DType(rawValue: "F16")?.byteSize, 2)
    XCTAssertEqual(DType(rawValue: "BF16")?.byteSize, 2)
    XCTAssertEqual(DType(rawValue: "I64")?.byteSize, 8)
    XCTAssertEqual(DType(rawValue: "I32")?.byteSize, 4)
    XCTAssertEqual(DType(rawValue: "I16")?.byteSize, 2)
    XCTAssertEqual(DType(rawValue: "I8")?.byteSize, 1)
    XCTAssertEqual(DType(rawValue: "U8")?.byteSize, 1)
    XCTAssertEqual(DType(rawValue: "BOOL")?.byteSize, 1)
    XCTAssertEqual(DType(rawValue: "F8_E4M3")?.byteSize, 1)
    XCTAssertEqual(DType(rawValue: "C64")?.byteSize, 8)
  }

  func testTensorsStayReadableWhileTheFileObjectLives() throws {
    var builder = SafeTensorsFileBuilder()
    builder.add("x", floats: [4, 5, 6], shape: [3])
    let path = try write(builder.bytes())
    let file = try SafeTensorsFile(path: path)
    // The private copy, not the path, holds the data: removing the file does not invalidate it.
    try FileManager.default.removeItem(atPath: path)
    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "x")).floats), [4, 5, 6])
  }

  func testRewritingTheFileInPlaceDoesNotReachAnOpenedFile() throws {
    // Issue 13: with the file mmap'ed, truncating it in place (as `cp` over it does) took the
    // pages away from running calls (SIGBUS). The reader now keeps its own copy.
    var builder = SafeTensorsFileBuilder()
    builder.add("x", floats: Array(repeating: 1.5, count: 4096), shape: [4096])
    let original = builder.bytes()
    let path = try write(original)
    let file = try SafeTensorsFile(path: path)
    let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
    try handle.truncate(atOffset: 0)
    try handle.write(contentsOf: Data(repeating: 0xFF, count: 100))
    try handle.close()
    let values = try XCTUnwrap(file.tensor(named: "x")).floats
    XCTAssertEqual(values.count, 4096)
    XCTAssertTrue(values.allSatisfy { $0 == 1.5 })
    // The checksum's bytes are the bytes read, not the file as it is now.
    XCTAssertEqual(file.withUnsafeBytes { Array($0) }, original)
  }

  func testReadsBytesThatAreNotInAFile() throws {
    var builder = SafeTensorsFileBuilder()
    builder.add("ids", int64s: [7, 8], shape: [2])
    builder.add("w", floats: [1, 2, 3], shape: [3])
    let file = try builder.bytes().withUnsafeBytes { try SafeTensorsFile(bytes: $0, name: "in-memory") }
    XCTAssertEqual(file.path, "in-memory")
    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "ids")).int64s), [7, 8])
    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "w")).floats), [1, 2, 3])
    // Validation is the same as for a file.
    let truncated = Array(builder.bytes().dropLast(4))
    XCTAssertThrowsError(try truncated.withUnsafeBytes { try SafeTensorsFile(bytes: $0) })
    XCTAssertThrowsError(try [UInt8]().withUnsafeBytes { try SafeTensorsFile(bytes: $0) })
  }
}

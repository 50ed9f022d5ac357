import Foundation
import XCTest

/// Builds safetensors files byte by byte, so tests can write both well-formed files and each
/// kind of damage the reader must reject.
struct SafeTensorsFileBuilder {
  struct Tensor {
    var name: String
    var dtype: String
    var shape: [Int]
    var bytes: [UInt8]
  }

  var tensors: [Tensor] = []
  var metadata: [String: String]? = nil

  mutating func add(_ name: String, floats: [Float], shape: [Int]) {
    tensors.append(Tensor(name: name, dtype: "F32", shape: shape, bytes: Self.littleEndianBytes(floats.map(\.bitPattern))))
  }

  mutating func add(_ name: String, int64s: [Int64], shape: [Int]) {
    tensors.append(Tensor(name: name, dtype: "I64", shape: shape, bytes: Self.littleEndianBytes(int64s)))
  }

  mutating func add(_ name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
    tensors.append(Tensor(name: name, dtype: dtype, shape: shape, bytes: bytes))
  }

  /// The file's bytes, tensors laid out back to back in the order added. Like the Python
  /// writer, the header is padded with spaces to a multiple of 8 so data stays aligned.
  func bytes() -> [UInt8] {
    var entries: [String] = []
    if let metadata {
      let pairs = metadata.keys.sorted().map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0]!))" }
      entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
    }
    var buffer: [UInt8] = []
    for tensor in tensors {
      let begin = buffer.count
      buffer += tensor.bytes
      entries.append(
        "\(Self.quoted(tensor.name)):{\"dtype\":\"\(tensor.dtype)\",\"shape\":\(tensor.shape),\"data_offsets\":[\(begin),\(buffer.count)]}"
      )
    }
    return Self.file(header: "{" + entries.joined(separator: ",") + "}", buffer: buffer)
  }

  /// A file from a literal header and buffer. `padToEight` mimics the Python writer; turn it
  /// off to misplace the data on purpose.
  static func file(header: String, buffer: [UInt8], padToEight: Bool = true) -> [UInt8] {
    var headerBytes = Array(header.utf8)
    while padToEight && (8 + headerBytes.count) % 8 != 0 {
      headerBytes.append(UInt8(ascii: " "))
    }
    return file(headerLength: UInt64(headerBytes.count), rest: headerBytes + buffer)
  }

  /// A file whose length field says `headerLength`, followed by `rest` as is.
  static func file(headerLength: UInt64, rest: [UInt8]) -> [UInt8] {
    littleEndianBytes([headerLength]) + rest
  }

  static func littleEndianBytes<Value: FixedWidthInteger>(_ values: [Value]) -> [UInt8] {
    values.flatMap { value in
      withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
  }

  private static func quoted(_ text: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])
    return String(decoding: data, as: UTF8.self)
  }
}

/// A fresh directory per test, removed afterwards, to write files into.
class TemporaryDirectoryTestCase: XCTestCase {
  private(set) var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  /// Writes `bytes` to a new file in the test's directory and returns its path.
  func write(_ bytes: [UInt8], named name: String = "weights.safetensors") throws -> String {
    let url = directory.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
  }
}

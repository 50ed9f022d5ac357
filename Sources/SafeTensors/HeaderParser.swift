import Foundation

/// Turns the JSON header into tensor entries and metadata, checking each entry on its own.
/// Checks that need the file size or several entries at once live in `BufferLayout`.
struct HeaderParser {
  /// The file the header came from, for error messages.
  let path: String

  static let metadataKey = "__metadata__"

  func parse(_ header: UnsafeRawBufferPointer) throws -> (entries: [TensorEntry], metadata: [String: String]) {
    // JSONSerialization also accepts UTF-16 and UTF-32; the format says UTF-8, so check first.
    guard Self.isValidUTF8(header) else {
      throw error(
        .headerNotUTF8,
        "the header is not valid UTF-8 text; the file is corrupt or was not written as safetensors")
    }
    let object: [String: Any]
    do {
      // No copy: the bytes outlive this call.
      let data = Data(
        bytesNoCopy: UnsafeMutableRawPointer(mutating: header.baseAddress!), count: header.count,
        deallocator: .none)
      let parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
      guard let dictionary = parsed as? [String: Any] else {
        throw error(
          .headerNotObject,
          "the header is JSON but not an object; it must map tensor names to {dtype, shape, data_offsets}")
      }
      object = dictionary
    } catch let failure as SafeTensorsError {
      throw failure
    } catch {
      throw self.error(
        .headerInvalidJSON,
        "the header is not valid JSON (\(Self.reason(error))); the file is corrupt or not safetensors")
    }

    var metadata: [String: String] = [:]
    var entries: [TensorEntry] = []
    entries.reserveCapacity(object.count)
    // Sorted so that a file with several problems always reports the same one first.
    for name in object.keys.sorted() {
      let value = object[name]!
      if name == Self.metadataKey {
        metadata = try parseMetadata(value)
      } else {
        entries.append(try parseEntry(name: name, value))
      }
    }
    return (entries, metadata)
  }

  private func parseMetadata(_ value: Any) throws -> [String: String] {
    guard let dictionary = value as? [String: Any] else {
      throw error(
        .invalidMetadata,
        "'\(Self.metadataKey)' must be an object of string values; found \(Self.kind(of: value))")
    }
    var metadata: [String: String] = [:]
    for (key, item) in dictionary {
      guard let text = item as? String else {
        throw error(
          .invalidMetadata,
          "'\(Self.metadataKey)' value for key '\(key)' is \(Self.kind(of: item)), but every value must be a string; write it as a string (for example str(value) in Python)")
      }
      metadata[key] = text
    }
    return metadata
  }

  private func parseEntry(name: String, _ value: Any) throws -> TensorEntry {
    guard let fields = value as? [String: Any] else {
      throw error(
        .entryNotObject, tensor: name,
        "the header entry is \(Self.kind(of: value)), but must be an object {\"dtype\", \"shape\", \"data_offsets\"}")
    }
    let dtype = try parseDType(fields, tensor: name)
    let shape = try parseShape(fields, tensor: name)
    let elementCount = try countElements(shape, tensor: name)
    let (begin, end) = try parseOffsets(fields, tensor: name)

    let (expectedBytes, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
    guard !overflow else {
      throw error(
        .elementCountOverflow, tensor: name,
        "shape \(shape) of \(dtype.rawValue) is too large to address; the header is corrupt")
    }
    guard end - begin == expectedBytes else {
      throw error(
        .byteLengthMismatch, tensor: name,
        "data_offsets [\(begin), \(end)] cover \(end - begin) bytes, but shape \(shape) of \(dtype.rawValue) needs \(elementCount) × \(dtype.byteSize) = \(expectedBytes) bytes; the header does not match the data, re-export the file")
    }
    return TensorEntry(
      name: name, dtype: dtype, shape: shape, elementCount: elementCount, begin: begin, end: end)
  }

  private func parseDType(_ fields: [String: Any], tensor name: String) throws -> DType {
    let value = try field("dtype", of: fields, tensor: name, expected: "a string such as \"F32\"")
    guard let text = value as? String else {
      throw error(
        .wrongFieldType, tensor: name,
        "\"dtype\" is \(Self.kind(of: value)), but must be a string such as \"F32\"")
    }
    if let dtype = DType(rawValue: text) {
      return dtype
    }
    if DType.subByteNames.contains(text) {
      throw error(
        .unsupportedDType, tensor: name,
        "dtype \"\(text)\" packs elements smaller than a byte, which this reader does not support; store the tensor as F32, F16 or BF16")
    }
    let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
    throw error(
      .unknownDType, tensor: name, "unknown dtype \"\(text)\"; the safetensors dtypes are \(known)")
  }

  private func parseShape(_ fields: [String: Any], tensor name: String) throws -> [Int] {
    let value = try field("shape", of: fields, tensor: name, expected: "an array of integers")
    guard let items = value as? [Any] else {
      throw error(
        .wrongFieldType, tensor: name,
        "\"shape\" is \(Self.kind(of: value)), but must be an array of integers such as [3, 2]")
    }
    var shape: [Int] = []
    shape.reserveCapacity(items.count)
    for (position, item) in items.enumerated() {
      switch JSONInteger(item) {
      case .integer(let dimension) where dimension < 0:
        throw error(
          .negativeDimension, tensor: name,
          "shape dimension \(position) is \(dimension); dimensions must be 0 or more")
      case .integer(let dimension):
        shape.append(dimension)
      case .tooLarge:
        throw error(
          .elementCountOverflow, tensor: name,
          "shape dimension \(position) is too large to address; the header is corrupt")
      case .notInteger:
        throw error(
          .wrongFieldType, tensor: name,
          "shape dimension \(position) is \(Self.kind(of: item)), but must be a whole number")
      }
    }
    return shape
  }

  private func countElements(_ shape: [Int], tensor name: String) throws -> Int {
    var count = 1
    for dimension in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard !overflow else {
        throw error(
          .elementCountOverflow, tensor: name,
          "shape \(shape) has more elements than can be addressed; the header is corrupt")
      }
      count = product
    }
    return count
  }

  private func parseOffsets(_ fields: [String: Any], tensor name: String) throws -> (Int, Int) {
    let value = try field("data_offsets", of: fields, tensor: name, expected: "[begin, end]")
    let wrongType = error(
      .wrongFieldType, tensor: name,
      "\"data_offsets\" is \(Self.kind(of: value)), but must be an array of two whole numbers [begin, end]")
    guard let items = value as? [Any], items.count == 2 else { throw wrongType }
    var offsets: [Int] = []
    for item in items {
      switch JSONInteger(item) {
      case .integer(let offset) where offset < 0:
        throw error(
          .invalidOffsets, tensor: name, "data_offsets contain \(offset); offsets must be 0 or more")
      case .integer(let offset):
        offsets.append(offset)
      case .tooLarge:
        throw error(
          .dataOutOfBounds, tensor: name,
          "data_offsets contain a value beyond any file size; the header is corrupt")
      case .notInteger:
        throw wrongType
      }
    }
    let (begin, end) = (offsets[0], offsets[1])
    guard begin <= end else {
      throw error(
        .invalidOffsets, tensor: name,
        "data_offsets [\(begin), \(end)] begin after they end; the header is corrupt, re-export the file")
    }
    return (begin, end)
  }

  private func field(_ key: String, of fields: [String: Any], tensor name: String, expected: String)
    throws -> Any
  {
    guard let value = fields[key] else {
      throw error(
        .missingField, tensor: name,
        "the header entry has no \"\(key)\"; every tensor needs \"dtype\", \"shape\" and \"data_offsets\" (\(key) is \(expected))")
    }
    return value
  }

  private func error(_ code: SafeTensorsError.Code, tensor: String? = nil, _ message: String)
    -> SafeTensorsError
  {
    SafeTensorsError(code, path: path, tensorName: tensor, message: message)
  }

  /// A JSON value's kind in words, for messages ("a string", "an array", ...).
  static func kind(of value: Any) -> String {
    switch value {
    case is NSNull: return "null"
    case is String: return "a string"
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    case let number as NSNumber:
      return String(cString: number.objCType) == "c" ? "a boolean" : "the number \(number)"
    default: return "\(type(of: value))"
    }
  }

  /// Decodes without building a String; `String(validating:as:)` would need macOS 15.
  private static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var iterator = bytes.makeIterator()
    var decoder = Unicode.UTF8()
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue: continue
      case .emptyInput: return true
      case .error: return false
      }
    }
  }

  private static func reason(_ error: Error) -> String {
    let detail = (error as NSError).userInfo["NSDebugDescription"] as? String
    return detail ?? "\(error)"
  }
}

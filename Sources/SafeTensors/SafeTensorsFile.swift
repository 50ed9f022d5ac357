/// A safetensors file read into private memory: an 8-byte little-endian header length N, N bytes of
/// JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`,
/// then the tensors' bytes, with offsets relative to byte 8 + N.
///
/// Opening validates the whole header against the file (see `SafeTensorsError.Code`), so a
/// tensor handed out is always inside the file, sized as its shape says, and aligned. The file
/// is read once into private memory (`PrivateBytes`: rewriting the file later changes nothing
/// here); tensor data points into it and stays valid as long as this object lives.
public final class SafeTensorsFile: @unchecked Sendable {
  /// Headers larger than this are rejected before parsing: a corrupt length field must not
  /// make the reader parse a whole multi-gigabyte weight buffer as JSON.
  public static let maximumHeaderByteCount = 100 * 1024 * 1024

  public let path: String
  /// Every tensor, in the order of their data in the file.
  public let tensors: [SafeTensor]
  /// The `__metadata__` strings; empty when the file has none.
  public let metadata: [String: String]
  /// File offset of the first data byte (8 + header length).
  public let dataOffset: Int

  /// The file's size in bytes.
  public var byteCount: Int { storage.byteCount }

  // Immutable after init, which is what makes the unchecked Sendable conformance true.
  private let storage: PrivateBytes
  private let indexByName: [String: Int]

  /// Reads and validates the file at `path`.
  public convenience init(path: String) throws {
    try self.init(storage: try PrivateBytes(path: path), path: path)
  }

  /// Validates bytes that are not in a file (copied once; `name` only names them in errors).
  public convenience init(bytes: UnsafeRawBufferPointer, name: String = "<bytes>") throws {
    try self.init(storage: try PrivateBytes(copying: bytes, name: name), path: name)
  }

  private init(storage: PrivateBytes, path: String) throws {
    let bytes = storage.bytes
    guard bytes.count >= 8 else {
      throw SafeTensorsError(
        .fileTooShort, path: path,
        message: "the file has \(bytes.count) bytes, fewer than the 8-byte header length every safetensors file starts with; it is empty, truncated or not a safetensors file")
    }
    let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
    guard headerLength > 0 else {
      throw SafeTensorsError(
        .headerLengthZero, path: path,
        message: "the header length is 0, but even a file with no tensors has a \"{}\" header; the file is corrupt")
    }
    guard headerLength <= UInt64(Self.maximumHeaderByteCount) else {
      throw SafeTensorsError(
        .headerTooLarge, path: path,
        message: "the header length is \(headerLength) bytes, above the \(Self.maximumHeaderByteCount)-byte limit; the file is corrupt or not a safetensors file (its first 8 bytes must be the little-endian header length)")
    }
    let dataOffset = 8 + Int(headerLength)
    guard dataOffset <= bytes.count else {
      throw SafeTensorsError(
        .headerBeyondFile, path: path,
        message: "the header length is \(headerLength) bytes, but only \(bytes.count - 8) bytes follow the length field; the file is truncated, copy or re-export it")
    }

    let header = UnsafeRawBufferPointer(rebasing: bytes[8..<dataOffset])
    let (entries, metadata) = try HeaderParser(path: path).parse(header)
    let ordered = try BufferLayout(
      path: path, dataOffset: dataOffset, bufferByteCount: bytes.count - dataOffset
    ).validate(entries)

    var tensors: [SafeTensor] = []
    var indexByName: [String: Int] = [:]
    tensors.reserveCapacity(ordered.count)
    for entry in ordered {
      let start = dataOffset + entry.begin
      let data = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + entry.byteCount)])
      indexByName[entry.name] = tensors.count
      tensors.append(
        SafeTensor(
          name: entry.name, dtype: entry.dtype, shape: entry.shape,
          elementCount: entry.elementCount, data: data))
    }

    self.path = path
    self.storage = storage
    self.dataOffset = dataOffset
    self.metadata = metadata
    self.tensors = tensors
    self.indexByName = indexByName
  }

  /// The tensor with this exact name, or nil.
  public func tensor(named name: String) -> SafeTensor? {
    indexByName[name].map { tensors[$0] }
  }

  /// The whole file's bytes, exactly those the tensors point into (so a checksum over them
  /// covers what serves); valid while the file object lives.
  public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
    try withExtendedLifetime(storage) { try body(storage.bytes) }
  }
}

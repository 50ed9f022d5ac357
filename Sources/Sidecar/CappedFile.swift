import Experiments
import Foundation

/// Reads a file the sidecar is told to read, at most `maxBytes + 1` bytes of it: a file past its
/// limit is refused without ever holding more than that in memory, whatever its size (or a
/// FIFO or /dev/zero in its place).
enum CappedFile {
  struct TooLarge: Error, CustomStringConvertible {
    let path: String
    let maxBytes: Int
    var description: String { "\(Excerpt.of(path, limit: 512)) is larger than the limit of \(maxBytes) bytes" }
  }

  static func read(atPath path: String, maxBytes: Int) throws -> Data {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    var data = Data()
    // `read(upToCount:)` returns less than asked at a pipe's boundary: loop until end or limit.
    while data.count <= maxBytes {
      guard let chunk = try handle.read(upToCount: maxBytes + 1 - data.count), !chunk.isEmpty else { break }
      data.append(chunk)
    }
    guard data.count <= maxBytes else { throw TooLarge(path: path, maxBytes: maxBytes) }
    return data
  }
}

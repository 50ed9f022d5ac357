import Foundation

/// Reads a file the sidecar is told to read (a model.json, the experiments file, the config
/// file): it must be a regular file, opened without blocking, of at most `maxBytes`. A FIFO or a
/// device in its place is refused instead of blocking its reader for good (the store's loader,
/// the experiments poller), and no more than `maxBytes + 1` bytes of anything are ever read.
public enum CappedFile {
  public struct TooLarge: Error, CustomStringConvertible {
    public let path: String
    public let maxBytes: Int
    /// The size the file reported, when it is known before reading.
    public let fileBytes: Int?
    public var description: String { "\(path) is larger than the limit of \(maxBytes) bytes" }
  }

  /// The file cannot be opened or read, or is not a regular file; `reason` says which.
  public struct Unreadable: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public let notRegular: Bool
    public var description: String { "cannot read \(path): \(reason)" }
  }

  public static func read(atPath path: String, maxBytes: Int) throws -> Data {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else {
      throw Unreadable(path: path, reason: String(cString: strerror(errno)), notRegular: false)
    }
    let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    var status = stat()
    guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
      throw Unreadable(path: path, reason: "not a regular file", notRegular: true)
    }
    guard status.st_size <= maxBytes else {
      throw TooLarge(path: path, maxBytes: maxBytes, fileBytes: Int(status.st_size))
    }
    var data = Data()
    do {
      // A file may grow while it is read: loop until its end or one byte past the limit.
      while data.count <= maxBytes {
        guard let chunk = try handle.read(upToCount: maxBytes + 1 - data.count), !chunk.isEmpty else { break }
        data.append(chunk)
      }
    } catch {
      throw Unreadable(path: path, reason: error.localizedDescription, notRegular: false)
    }
    guard data.count <= maxBytes else { throw TooLarge(path: path, maxBytes: maxBytes, fileBytes: nil) }
    return data
  }
}

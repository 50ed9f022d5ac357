#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory, unmapped when the last reference goes.
///
/// Its own class (rather than fields of `SafeTensorsFile`) so that a header that fails
/// validation still releases the mapping: a throwing initializer does not run `deinit`.
final class MappedFile: @unchecked Sendable {
  /// Start of the mapping; page aligned. Nil only for an empty file, which cannot be mapped.
  let base: UnsafeRawPointer?
  let byteCount: Int

  var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: byteCount) }

  init(path: String) throws {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw SafeTensorsError(
        .cannotOpen, path: path,
        message: "cannot open the file (\(Self.systemError())); check the path and its permissions")
    }
    // The mapping keeps the file's pages alive on its own; the descriptor is not needed after.
    defer { close(descriptor) }

    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      throw SafeTensorsError(
        .cannotOpen, path: path, message: "cannot read the file's size (\(Self.systemError()))")
    }
    guard (status.st_mode & S_IFMT) == S_IFREG else {
      throw SafeTensorsError(
        .cannotOpen, path: path,
        message: "not a regular file; pass the path of a .safetensors file, not a directory or device")
    }
    byteCount = Int(status.st_size)
    guard byteCount > 0 else {
      // mmap rejects length 0; the caller reports the file as too short.
      base = nil
      return
    }
    let address = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, descriptor, 0)
    guard let address, address != MAP_FAILED else {
      throw SafeTensorsError(
        .cannotOpen, path: path, message: "cannot map the file into memory (\(Self.systemError()))")
    }
    base = UnsafeRawPointer(address)
  }

  deinit {
    if let base {
      munmap(UnsafeMutableRawPointer(mutating: base), byteCount)
    }
  }

  private static func systemError() -> String {
    String(cString: strerror(errno))
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file's bytes (or bytes handed in) copied once into private, page-aligned anonymous memory,
/// released when the last reference goes.
///
/// Why not mmap the file: a mapping shares the file's pages, so anyone who truncates or rewrites
/// the file in place (`cp` over it, truncate + write) pulls them out from under running calls
/// (SIGBUS), and what the checksum verified is no longer what serves. Private memory is read
/// once; the checksum, the header parse and every model read the same bytes. It is one copy,
/// not two: the file is read straight into it, never through a heap buffer. Read-only after
/// the read (mprotect), so a stray write in a plugin faults instead of corrupting weights.
///
/// Its own class (rather than fields of `SafeTensorsFile`) so that a header that fails
/// validation still releases the memory: a throwing initializer does not run `deinit`.
final class PrivateBytes: @unchecked Sendable {
  /// Start of the memory; page aligned. Nil only when there are no bytes.
  let base: UnsafeRawPointer?
  let byteCount: Int
  private let mappedByteCount: Int

  var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: byteCount) }

  /// Reads the whole regular file at `path`.
  init(path: String) throws {
    // Non-blocking: opening a FIFO put where the weights belong must not hang the loader
    // (it is refused below as not a regular file); reads of a regular file are unaffected.
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else {
      throw SafeTensorsError(
        .cannotOpen, path: path,
        message: "cannot open the file (\(Self.systemError())); check the path and its permissions")
    }
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
    let size = Int(status.st_size)
    let memory = try Self.allocate(size, path: path)
    var done = 0
    while done < size {
      let count = read(descriptor, memory! + done, size - done)
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else {
        let reason = count < 0 ? Self.systemError() : "it ended early"
        Self.release(memory, size)
        // Shorter than fstat said: someone truncated or rewrote it while it was read.
        throw SafeTensorsError(
          .cannotOpen, path: path,
          message: "cannot read the whole file: \(reason) after \(done) of \(size) bytes; it changed while it was read (is it being written?)")
      }
      done += count
    }
    (base, byteCount, mappedByteCount) = Self.seal(memory, size)
  }

  /// Copies `source` (for bytes that are not in a file, e.g. a fuzzer's input).
  init(copying source: UnsafeRawBufferPointer, name: String) throws {
    let memory = try Self.allocate(source.count, path: name)
    if let memory, let start = source.baseAddress { memory.copyMemory(from: start, byteCount: source.count) }
    (base, byteCount, mappedByteCount) = Self.seal(memory, source.count)
  }

  deinit {
    if let base { munmap(UnsafeMutableRawPointer(mutating: base), mappedByteCount) }
  }

  private static func allocate(_ size: Int, path: String) throws -> UnsafeMutableRawPointer? {
    guard size > 0 else { return nil }  // mmap rejects length 0; the caller reports the file as too short.
    let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    guard let address, address != MAP_FAILED else {
      throw SafeTensorsError(
        .cannotOpen, path: path, message: "cannot allocate \(size) bytes for the file (\(systemError()))")
    }
    // Huge pages where the system offers them on request (THP "madvise", Debian's default): a
    // whole-catalog scan streams the table, and with 4 KiB pages every 4 KiB costs a TLB miss.
    // A scan of 1M rows measured 28.7 GB/s on huge pages against 22-27 without (one core,
    // bench/retrieval/scan_roof.c). Best effort: a refusal leaves ordinary pages.
    #if os(Linux)
    if size >= Self.hugePageBytes { _ = madvise(address, size, MADV_HUGEPAGE) }
    #endif
    return address
  }

  /// x86-64's transparent huge page; smaller buffers gain nothing from the advice.
  private static let hugePageBytes = 2 << 20

  private static func release(_ memory: UnsafeMutableRawPointer?, _ size: Int) {
    if let memory { munmap(memory, size) }
  }

  private static func seal(_ memory: UnsafeMutableRawPointer?, _ size: Int) -> (UnsafeRawPointer?, Int, Int) {
    if let memory { mprotect(memory, size, PROT_READ) }
    return (memory.map(UnsafeRawPointer.init), size, size)
  }

  private static func systemError() -> String {
    String(cString: strerror(errno))
  }
}

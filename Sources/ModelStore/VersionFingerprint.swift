import Foundation

/// What identifies the files of a version on disk: a changed fingerprint means the
/// version was rewritten in place and must be loaded again.
struct VersionFingerprint: Equatable {
  struct File: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64  // nanoseconds
  }

  var manifest: File
  var weights: File

  init?(_ version: StoreLayout.Version) {
    guard let manifest = Self.file(version.manifestPath), let weights = Self.file(version.weightsPath) else { return nil }
    self.manifest = manifest
    self.weights = weights
  }

  private static func file(_ path: String) -> File? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    return File(device: UInt64(status.st_dev), inode: UInt64(status.st_ino), size: Int64(status.st_size),
                modified: Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec))
  }
}

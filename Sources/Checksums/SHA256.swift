import COpenSSL
import Foundation

/// SHA-256 as lowercase hex, through OpenSSL (uses the CPU's SHA extensions).
public enum SHA256 {
  public static func hex(of bytes: UnsafeRawBufferPointer) -> String {
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    EVP_Digest(bytes.baseAddress, bytes.count, &digest, &length, EVP_sha256(), nil)
    return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
  }

  /// The digest of a whole file, read through a private read-only mapping.
  public static func hex(ofFileAt path: String) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    return data.withUnsafeBytes { hex(of: $0) }
  }
}

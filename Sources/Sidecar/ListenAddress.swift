import Foundation

/// What a listen address (as grpc takes it) says about who can reach it.
public enum ListenAddress {
  /// True when only this machine can connect: a unix socket, or a loopback host
  /// (127.0.0.0/8, ::1, localhost). An empty host, 0.0.0.0, [::] or any other name is not.
  public static func isLocal(_ address: String) -> Bool {
    if address.hasPrefix("unix:") || address.hasPrefix("unix-abstract:") { return true }
    guard let host = host(of: address) else { return false }
    if host.lowercased() == "localhost" { return true }
    var ipv4 = in_addr()
    if inet_pton(AF_INET, host, &ipv4) == 1 {
      return withUnsafeBytes(of: &ipv4) { $0[0] } == 127
    }
    var ipv6 = in6_addr()
    if inet_pton(AF_INET6, host, &ipv6) == 1 {
      let bytes = withUnsafeBytes(of: &ipv6) { Array($0) }
      let isLoopback = bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
      // ::ffff:127.x.y.z reaches the IPv4 loopback.
      let isMappedLoopback = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
        && bytes[12] == 127
      return isLoopback || isMappedLoopback
    }
    return false
  }

  /// "host:port", "[v6]:port" or "ipv4:/ipv6:/dns: host:port" -> host; nil when there is none.
  static func host(of address: String) -> String? {
    var rest = Substring(address)
    for scheme in ["dns:///", "dns:", "ipv4:", "ipv6:"] where rest.hasPrefix(scheme) {
      rest = rest.dropFirst(scheme.count)
      break
    }
    if rest.hasPrefix("[") {
      guard let close = rest.firstIndex(of: "]") else { return nil }
      return String(rest[rest.index(after: rest.startIndex)..<close])
    }
    let host = rest.lastIndex(of: ":").map { rest[..<$0] } ?? rest
    return host.isEmpty ? nil : String(host)
  }
}

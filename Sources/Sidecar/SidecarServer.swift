import CGRPCShim
import Foundation

/// The running gRPC servers: the public Recommender listener and, when configured,
/// the ModelAdmin listener, wired to their Swift services.
public final class SidecarServer {
  private let server: OpaquePointer
  /// Retained for as long as the shim may call back into them.
  private let recommend: Unmanaged<RecommendService>
  private let admin: Unmanaged<AdminService>?

  public struct StartError: Error, CustomStringConvertible {
    public let description: String
  }

  public init(listen address: String, service: RecommendService, adminListen adminAddress: String? = nil,
              admin adminService: AdminService? = nil, maxReceiveMessageBytes: Int32 = 0) throws {
    let recommend = Unmanaged.passRetained(service)
    let admin = adminService.map { Unmanaged.passRetained($0) }
    var errorBuffer = [CChar](repeating: 0, count: 512)
    let started = address.withCString { address in
      (adminAddress ?? "").withCString { adminAddress -> OpaquePointer? in
        var options = rs_server_options(
          listen_address: address, max_receive_message_bytes: maxReceiveMessageBytes,
          recommend: recommendHandler, recommend_context: recommend.toOpaque(),
          admin_listen_address: admin == nil ? nil : adminAddress,
          admin: admin == nil ? nil : adminHandler, admin_context: admin?.toOpaque())
        return rs_server_start(&options, &errorBuffer, errorBuffer.count)
      }
    }
    guard let started else {
      recommend.release()
      admin?.release()
      throw StartError(description: "cannot start: \(String(cString: errorBuffer))")
    }
    server = started
    self.recommend = recommend
    self.admin = admin
  }

  public var port: Int { Int(rs_server_port(server)) }
  public var adminPort: Int { Int(rs_server_admin_port(server)) }

  /// Health answers SERVING only while this is true.
  public func setServing(_ serving: Bool) { rs_server_set_serving(server, serving) }

  /// Stops taking calls and gives running ones `drainMilliseconds` to finish.
  public func shutdown(drainMilliseconds: Int64) { rs_server_shutdown(server, drainMilliseconds) }

  /// Blocks until the server has shut down, then frees it.
  public func wait() {
    rs_server_wait(server)
    rs_server_destroy(server)
    recommend.release()
    admin?.release()
  }
}

/// The C entry point the shim calls for each Recommend.
private let recommendHandler: rs_recommend_handler = { context, request, response in
  guard let context, let request, let response else { return Int32(RS_STATUS_INTERNAL) }
  let service = Unmanaged<RecommendService>.fromOpaque(context).takeUnretainedValue()
  return service.handle(request.pointee, response)
}

/// The C entry point the shim calls for each ModelAdmin call; the service finishes it later.
private let adminHandler: rs_admin_handler = { context, call, method, json, length in
  guard let context, let call, let method else { return }
  let service = Unmanaged<AdminService>.fromOpaque(context).takeUnretainedValue()
  let request = json.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? "{}"
  service.handle(call, method: String(cString: method), requestJSON: request)
}

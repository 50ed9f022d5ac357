import CGRPCShim
import Foundation

/// The running gRPC server: the shim's listener wired to a RecommendService.
public final class SidecarServer {
  private let server: OpaquePointer
  /// Retained for as long as the shim may call back into it.
  private let service: Unmanaged<RecommendService>

  public struct StartError: Error, CustomStringConvertible {
    public let description: String
  }

  public init(listen address: String, service: RecommendService, maxReceiveMessageBytes: Int32 = 0) throws {
    let retained = Unmanaged.passRetained(service)
    var errorBuffer = [CChar](repeating: 0, count: 512)
    let started = address.withCString { address -> OpaquePointer? in
      var options = rs_server_options(
        listen_address: address, max_receive_message_bytes: maxReceiveMessageBytes,
        recommend: recommendHandler, recommend_context: retained.toOpaque())
      return rs_server_start(&options, &errorBuffer, errorBuffer.count)
    }
    guard let started else {
      retained.release()
      throw StartError(description: "cannot listen on \(address): \(String(cString: errorBuffer))")
    }
    server = started
    self.service = retained
  }

  public var port: Int { Int(rs_server_port(server)) }

  /// Health answers SERVING only while this is true.
  public func setServing(_ serving: Bool) { rs_server_set_serving(server, serving) }

  /// Stops taking calls and gives running ones `drainMilliseconds` to finish.
  public func shutdown(drainMilliseconds: Int64) { rs_server_shutdown(server, drainMilliseconds) }

  /// Blocks until the server has shut down, then frees it.
  public func wait() {
    rs_server_wait(server)
    rs_server_destroy(server)
    service.release()
  }
}

/// The C entry point the shim calls for each Recommend.
private let recommendHandler: rs_recommend_handler = { context, request, response in
  guard let context, let request, let response else { return Int32(RS_STATUS_INTERNAL) }
  let service = Unmanaged<RecommendService>.fromOpaque(context).takeUnretainedValue()
  return service.handle(request.pointee, response)
}

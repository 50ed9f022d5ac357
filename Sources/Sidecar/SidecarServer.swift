import CGRPCShim
import Foundation
import RecSysStatus

/// The running gRPC servers: the public Recommender listener and, when configured,
/// the ModelAdmin listener, wired to their Swift services.
public final class SidecarServer {
  private let server: OpaquePointer
  /// Retained for as long as the shim may call back into them.
  private let recommend: Unmanaged<RecommendService>
  private let feedback: Unmanaged<FeedbackService>
  private let admin: Unmanaged<AdminService>?
  /// The counts as the server ended, read before it is freed.
  private var finalCounts: (admitted: UInt64, refused: UInt64, runningAtDeadline: UInt64)?

  public struct StartError: Error, CustomStringConvertible {
    public let description: String
  }

  /// TLS for the Recommender listener: PEM file paths; "" client CA for none.
  public struct TLS: Equatable, Sendable {
    public var certificateChain: String
    public var privateKey: String
    public var clientCA: String
    public var requireClientCertificate: Bool

    public init(certificateChain: String, privateKey: String, clientCA: String = "", requireClientCertificate: Bool = false) {
      self.certificateChain = certificateChain
      self.privateKey = privateKey
      self.clientCA = clientCA
      self.requireClientCertificate = requireClientCertificate
    }
  }

  /// `adminToken`: "" lets ModelAdmin calls in without credentials; otherwise each must carry
  /// `authorization: Bearer <adminToken>` or it is refused UNAUTHENTICATED before it reaches
  /// `adminService`.
  public init(listen address: String, service: RecommendService, feedback feedbackService: FeedbackService? = nil,
              adminListen adminAddress: String? = nil,
              admin adminService: AdminService? = nil, maxReceiveMessageBytes: Int32 = 0, tls: TLS? = nil,
              adminToken: String = "") throws {
    let recommend = Unmanaged.passRetained(service)
    let feedback = Unmanaged.passRetained(feedbackService ?? FeedbackService(ledger: service.ledger))
    let admin = adminService.map { Unmanaged.passRetained($0) }
    // C copies that outlive rs_server_start (which copies what it keeps).
    let strings = [address, admin == nil ? nil : adminAddress, tls?.certificateChain, tls?.privateKey,
                   tls?.clientCA, admin == nil ? nil : adminToken].map { $0.flatMap { strdup($0) } }
    defer { strings.forEach { free($0) } }
    var errorBuffer = [CChar](repeating: 0, count: 512)
    var options = rs_server_options(
      listen_address: UnsafePointer(strings[0]), max_receive_message_bytes: maxReceiveMessageBytes,
      recommend: recommendHandler, recommend_context: recommend.toOpaque(),
      feedback: feedbackHandler, feedback_context: feedback.toOpaque(),
      admin_listen_address: UnsafePointer(strings[1]),
      admin: admin == nil ? nil : adminHandler, admin_context: admin?.toOpaque(),
      tls_certificate_chain_path: UnsafePointer(strings[2]), tls_private_key_path: UnsafePointer(strings[3]),
      tls_client_ca_path: UnsafePointer(strings[4]),
      tls_require_client_certificate: tls?.requireClientCertificate ?? false,
      admin_bearer_token: UnsafePointer(strings[5]))
    guard let started = rs_server_start(&options, &errorBuffer, errorBuffer.count) else {
      recommend.release()
      feedback.release()
      admin?.release()
      throw StartError(description: "cannot start: \(String(cString: errorBuffer))")
    }
    server = started
    self.recommend = recommend
    self.feedback = feedback
    self.admin = admin
  }

  public var port: Int { Int(rs_server_port(server)) }
  public var adminPort: Int { Int(rs_server_admin_port(server)) }

  /// Health answers SERVING only while this is true.
  public func setServing(_ serving: Bool) { rs_server_set_serving(server, serving) }

  /// Health turns NOT_SERVING, both listeners refuse new calls (UNAVAILABLE), running calls get
  /// `drainMilliseconds` to finish, then are cancelled; returns when none is left.
  public func shutdown(drainMilliseconds: Int64) { rs_server_shutdown(server, drainMilliseconds) }

  /// Recommend and ModelAdmin calls so far: handed to a handler, refused while draining, and
  /// cancelled because they still ran at the drain deadline.
  public var callCounts: (admitted: UInt64, refused: UInt64, runningAtDeadline: UInt64) {
    if let finalCounts { return finalCounts }
    let counts = rs_server_call_counts(server)
    return (counts.admitted, counts.refused, counts.running_at_deadline)
  }

  /// Blocks until the server has shut down, then frees it.
  public func wait() {
    rs_server_wait(server)
    finalCounts = callCounts
    rs_server_destroy(server)
    recommend.release()
    feedback.release()
    admin?.release()
  }
}

/// The C entry point the shim calls for each Recommend.
let recommendHandler: rs_recommend_handler = { context, request, response in
  guard let context, let request, let response else { return StatusCode.internal.rawValue }
  let service = Unmanaged<RecommendService>.fromOpaque(context).takeUnretainedValue()
  return service.handle(request.pointee, response)
}

/// The C entry point the shim calls for each Feedback.
private let feedbackHandler: rs_feedback_handler = { context, request, response in
  guard let context, let request, let response else { return StatusCode.internal.rawValue }
  let service = Unmanaged<FeedbackService>.fromOpaque(context).takeUnretainedValue()
  return service.handle(request.pointee, response)
}

/// The C entry point the shim calls for each ModelAdmin call; the service finishes it later.
private let adminHandler: rs_admin_handler = { context, call, method, json, length in
  guard let context, let call, let method else { return }
  let service = Unmanaged<AdminService>.fromOpaque(context).takeUnretainedValue()
  let request = json.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? "{}"
  service.handle(call, method: String(cString: method), requestJSON: request)
}

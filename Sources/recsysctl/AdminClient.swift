import CGRPCShim
import Foundation
import RecSysStatus

/// One unary call through the shim's JSON client.
struct RPCFailure: Error, CustomStringConvertible {
  let code: Int32
  let message: String
  var description: String { "\(StatusCode(rawValue: code)?.name ?? "status \(code)"): \(message)" }
}

func call(_ address: String, _ method: String, _ request: [String: Any], token: String?, timeoutSeconds: Double)
  throws -> [String: Any]
{
  let body = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
  var text: UnsafeMutablePointer<CChar>?
  let status = rs_call_json(address, method, body, token, Int64(timeoutSeconds * 1000), &text)
  let reply = text.map { String(cString: $0) } ?? ""
  rs_free(text)
  guard status == 0 else { throw RPCFailure(code: status, message: reply) }
  return (try? JSONSerialization.jsonObject(with: Data(reply.utf8))) as? [String: Any] ?? [:]
}

/// proto3 JSON prints int64 as strings.
func integer(_ value: Any?) -> Int {
  if let number = value as? NSNumber { return number.intValue }
  if let text = value as? String { return Int(text) ?? 0 }
  return 0
}

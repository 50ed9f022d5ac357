import CGRPCShim
import Foundation
import ModelStore
import PluginHost

/// ModelAdmin over the shim's JSON bridge. Admin calls may take seconds (a reload
/// loads and warms up models), so each runs off grpc's threads and finishes the
/// call when done.
public final class AdminService: @unchecked Sendable {
  let registry: ModelRegistry
  private let work = DispatchQueue(label: "recsys.admin", attributes: .concurrent)

  public init(registry: ModelRegistry) {
    self.registry = registry
  }

  /// The shim's handle of one admin call: finished exactly once, from any thread.
  struct Call: @unchecked Sendable {
    let handle: OpaquePointer
  }

  func handle(_ handle: OpaquePointer, method: String, requestJSON: String) {
    let call = Call(handle: handle)
    let requestText = requestJSON
    work.async {
      let request = (try? JSONSerialization.jsonObject(with: Data(requestText.utf8))) as? [String: Any] ?? [:]
      do {
        let response: [String: Any]
        switch method {
        case "ListModels":
          let model = request["model"] as? String ?? ""
          response = ["models": self.registry.status(model: model.isEmpty ? nil : model).map(Self.json)]
        case "ReloadModels":
          self.registry.reload(retryFailed: true)
          response = ["models": self.registry.status(model: nil).map(Self.json)]
        case "SetVersionPolicy":
          let status = try self.registry.setPolicy(model: request["model"] as? String ?? "", try Self.change(request))
          response = ["model": Self.json(status)]
        case "ListPlugins":
          let (loaded, refused) = self.registry.pluginEntries()
          response = [
            "plugins": loaded.map { entry in
              ["path": entry.plugin.path, "kind": entry.plugin.kind, "version": entry.plugin.version,
               "abi_version": entry.plugin.abiVersion, "sha256": entry.sha256, "active": entry.active] as [String: Any]
            },
            "refused": refused.sorted { $0.key < $1.key }.map { ["path": $0.key, "reason": $0.value] },
          ]
        default:
          throw ServiceError(code: Int32(RS_STATUS_UNIMPLEMENTED), message: "ModelAdmin has no method \(method)")
        }
        let data = try JSONSerialization.data(withJSONObject: response, options: [.sortedKeys])
        Self.finish(call, Int32(RS_STATUS_OK), String(decoding: data, as: UTF8.self))
      } catch {
        let failure = ServiceError(error)
        Self.finish(call, failure.code, failure.message)
      }
    }
  }

  private static func finish(_ call: Call, _ status: Int32, _ text: String) {
    var text = text
    text.withUTF8 {
      rs_admin_finish(call.handle, status, UnsafeRawPointer($0.baseAddress)?.assumingMemoryBound(to: CChar.self), $0.count)
    }
  }

  /// proto3 JSON prints int64 as strings; accept both.
  private static func integer(_ value: Any?) -> Int? {
    if let number = value as? NSNumber { return number.intValue }
    if let text = value as? String { return Int(text) }
    return nil
  }

  private static func change(_ request: [String: Any]) throws -> PolicyChange {
    if let pin = integer(request["pin"]) { return .pin(pin) }
    if request["latest"] as? Bool == true { return .latest }
    if let label = request["label"] as? [String: Any], let name = label["label"] as? String, !name.isEmpty {
      return .label(name, integer(label["version"]) ?? 0)
    }
    throw ServiceError.invalidArgument("SetVersionPolicy needs one of: pin (a version), latest: true, or label {label, version}")
  }

  static func json(_ status: ModelStatus) -> [String: Any] {
    [
      "name": status.name,
      "serving_version": status.servingVersion ?? 0,
      "policy": status.policy.pinned == nil ? "latest" : "pinned",
      "pinned_version": status.policy.pinned ?? 0,
      "labels": status.policy.labels,
      "error": status.error,
      "versions": status.versions.map { version in
        [
          "version": version.version, "state": version.state.rawValue, "error": version.error,
          "labels": version.labels, "kind": version.kind, "sha256": version.sha256, "description": version.description,
        ] as [String: Any]
      },
    ]
  }
}

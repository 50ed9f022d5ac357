import Foundation
import ModelStore

extension SidecarConfig {
  /// The settings as a config file that gives every key (defaults included), for
  /// `--print-config`. Read back with `init(yaml:source:)` it yields the same settings, except
  /// an inline admin token, which is never printed.
  public var yaml: String {
    var lines = ["# recsys-sidecar effective configuration (config file + flags)"]
    func add(_ key: String, _ value: String) { lines.append("\(key): \(value)") }
    add("listen", Self.quoted(listen))
    add("admin_listen", Self.quoted(adminListen))
    add("metrics_listen", Self.quoted(metricsListen))
    add("store", Self.quoted(store))
    add("plugins", Self.quoted(plugins))
    add("default_model", Self.quoted(defaultModel))
    add("poll_interval_seconds", "\(pollIntervalSeconds)")
    add("tls_cert", Self.quoted(tlsCert))
    add("tls_key", Self.quoted(tlsKey))
    add("tls_client_ca", Self.quoted(tlsClientCA))
    add("tls_require_client_cert", "\(tlsRequireClientCert)")
    if adminToken.isEmpty {
      add("admin_token", "\"\"")
    } else {
      lines.append("# admin_token: set (\(adminToken.count) characters, not shown)")
    }
    add("admin_token_file", Self.quoted(adminTokenFile))
    add("drain_seconds", "\(drainSeconds)")
    add("max_receive_message_bytes", "\(maxReceiveMessageBytes)")
    add("max_top_k", "\(limits.maxTopK)")
    add("max_candidates", "\(limits.maxCandidates)")
    add("max_history", "\(limits.maxHistory)")
    add("experiments", Self.quoted(experiments))
    add("exposure_log", Self.quoted(exposureLog))
    add("exposure_log_max_bytes", "\(exposureLogMaxBytes)")
    add("exposure_log_keep", "\(exposureLogKeep)")
    add("exposure_log_queue", "\(exposureLogQueue)")
    add("feedback_window", "\(feedbackWindow)")
    add("experiment_state", Self.quoted(experimentState))
    add("experiment_state_password_file", Self.quoted(experimentStatePasswordFile))
    add("experiment_state_prefix", Self.quoted(experimentStatePrefix))
    add("experiment_state_buffer", "\(experimentStateBuffer)")
    add("experiment_state_flush_ms", "\(experimentStateFlushMilliseconds)")
    add("feedback_ttl_seconds", "\(feedbackTTLSeconds)")
    add("feedback_log", Self.quoted(feedbackLog))
    if models.isEmpty {
      add("models", "{}")
    } else {
      lines.append("models:")
      for (name, policy) in models.sorted(by: { $0.key < $1.key }) {
        var fields: [String] = []
        if let pinned = policy.pinned { fields.append("pinned: \(pinned)") }
        if !policy.labels.isEmpty {
          let labels = policy.labels.sorted { $0.key < $1.key }.map { "\(Self.quoted($0.key)): \($0.value)" }
          fields.append("labels: {\(labels.joined(separator: ", "))}")
        }
        lines.append("  \(Self.quoted(name)): {\(fields.joined(separator: ", "))}")
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
  static func quoted(_ text: String) -> String {
    let data = try? JSONEncoder.withoutEscapingSlashes.encode(text)
    return data.map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
  }
}

extension JSONEncoder {
  fileprivate static var withoutEscapingSlashes: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return encoder
  }
}

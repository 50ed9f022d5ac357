import Experiments
import Foundation
import ModelStore
import Yams

extension SidecarConfig {
  /// The settings as a config file that gives every key (defaults included), for
  /// `--print-config`. Read back with `init(yaml:source:)` it yields the same settings, except
  /// an inline admin token, which is never printed.
  public var yaml: String {
    var lines = ["# recsys-sidecar effective configuration (config file + flags)"]
    func add(_ key: String, _ value: String) { lines.append("\(key): \(value)") }
    for key in Self.keys {
      if key.secret, case .text(let path) = key.value, !self[keyPath: path].isEmpty {
        lines.append("# \(key.yaml): set (\(self[keyPath: path].count) characters, not shown)")
      } else {
        add(key.yaml, shown(key))
      }
    }
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

extension SidecarConfig {
  /// The config file's text, read with the limits of `YAMLGuard` (the same as the experiments
  /// file's): at most `maxBytes + 1` bytes are read.
  static func readFile(_ path: String, limits: YAMLLimits = .standard) throws -> String {
    let data: Data
    do {
      data = try CappedFile.read(atPath: path, maxBytes: limits.maxBytes)
    } catch let error as CappedFile.TooLarge {
      throw Invalid(description: "config file \(error)")
    } catch let error as CappedFile.Unreadable {
      throw Invalid(description: "cannot read config file \(path): \(error.reason)")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw Invalid(description: "cannot read config file \(path): it is not UTF-8 text")
    }
    return text
  }

  /// The file's settings as Yams' plain values (`[String: Any]` at the top), or nil when empty.
  /// Not `Yams.load`: `YAMLGuard` must refuse what Yams' composer cannot take (too deep,
  /// aliases, too many or too long values) before it runs, and Yams' constructor crashes on a
  /// mapping key that is a list or mapping (`[a]: 1`) and overflows on a YAML 1.1 base-60
  /// integer (`1:0:0:0:0:0:0:0:0:0:0:0`), both found by the fuzzer; the composed tree is checked
  /// for those before anything is constructed.
  static func loadYAML(_ text: String, source: String, limits: YAMLLimits = .standard) throws -> Any? {
    do {
      try YAMLGuard.check(text, limits: limits)
    } catch let refusal as YAMLGuard.Refusal {
      let line = refusal.line.map { ":\($0)" } ?? ""
      throw Invalid(description: "\(source)\(line): \(refusal.message)")
    }
    let root: Node?
    do {
      root = try Yams.compose(yaml: text)
    } catch {
      throw Invalid(description: "\(source): not valid YAML: \(Excerpt.message("\(error)"))")
    }
    guard let root else { return nil }
    var pending = [root]  // a loop, not recursion: depth is bounded anyway, this costs nothing
    while let node = pending.popLast() {
      switch node {
      case .scalar(let scalar):
        if node.tag == Tag(.int) && scalar.string.contains(":") {
          let line = node.mark.map { ":\($0.line)" } ?? ""
          throw Invalid(description: "\(source)\(line): \"\(Excerpt.of(scalar.string))\" reads as a base-60 number "
            + "in YAML 1.1; write a decimal number, or quote it if it is text")
        }
      case .sequence(let sequence):
        pending.append(contentsOf: sequence)
      case .mapping(let mapping):
        for (key, value) in mapping {
          guard key.scalar != nil else {
            let line = key.mark.map { ":\($0.line)" } ?? ""
            throw Invalid(description: "\(source)\(line): mapping keys must be plain names, not lists or mappings")
          }
          pending.append(contentsOf: [key, value])  // keys too: `!!omap` constructs them as values
        }
      }
    }
    return Constructor.default.any(from: root)
  }
}

extension JSONEncoder {
  fileprivate static var withoutEscapingSlashes: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return encoder
  }
}

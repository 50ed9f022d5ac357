import Foundation
import ManifestValue

/// A version's `model.json`: the model kind, optional checksum and description, and the raw
/// text, which plugins receive unchanged and read their own hyperparameters from.
///
/// Parsed once when a version is loaded; values are kept as plain Swift values so the manifest
/// is `Sendable` and can be read from any thread.
public struct ModelManifest: Sendable {
  /// The plugin kind that serves this model, e.g. "mlp". Never empty.
  public let kind: String
  /// Expected SHA-256 of `weights.safetensors`, lowercase hex, when the manifest pins one.
  public let sha256: String?
  /// Free text for operators.
  public let description: String?
  /// The file's text exactly as read, handed to plugins.
  public let json: String
  /// Where the manifest came from, for messages.
  public let path: String

  private let fields: [String: Value]

  /// A manifest is a few hundred bytes; anything far larger is not one.
  public static let maximumByteCount = 1 << 20

  /// Reads and parses the manifest at `path`.
  public init(contentsOf path: String) throws {
    let data = try Self.read(path)
    guard let text = String(data: data, encoding: .utf8) else {
      throw ModelManifestError(
        .invalidJSON, path: path, message: "the file is not UTF-8 text; save it as UTF-8 JSON")
    }
    try self.init(json: text, path: path)
  }

  /// Parses manifest text; `path` only names it in errors.
  public init(json: String, path: String = "model.json") throws {
    let fields: [String: Value]
    do {
      fields = try Value.object(json: json)
    } catch {
      throw ModelManifestError(
        .invalidJSON, path: path, message: "\(error); it must be an object such as {\"kind\": \"mlp\", ...}")
    }

    guard case .string(let kind)? = fields["kind"], !kind.isEmpty else {
      let found = fields["kind"].map { "it is \($0.kindDescription)" } ?? "it is missing"
      throw ModelManifestError(
        fields["kind"] == nil ? .missingKey : .wrongType, path: path, key: "kind",
        message: "\"kind\" must be a non-empty string naming the model's plugin, such as \"mlp\"; \(found)")
    }
    self.kind = kind
    self.sha256 = try Self.checksum(fields["sha256"], path: path)
    self.description = try Self.optionalString("description", fields, path: path)
    self.json = json
    self.path = path
    self.fields = fields
    try checkHyperparameters()
  }

  /// The hyperparameters models.md defines and the ranges any kind may use them in. The
  /// sha256 covers only the weights, so a manifest is untrusted input: a value outside these
  /// ranges (-1, 2^40, Int64.max) once made the warm-up allocate terabytes or overflow, and a
  /// plugin's arithmetic on it overflow. Plugins check their own (narrower) ranges on top.
  public static let hyperparameterRanges: [String: ClosedRange<Int>] = [
    "context_dim": 0...65_536,
    "candidate_feature_dim": 0...65_536,
    "max_history": 1...100_000,
    "num_layers": 1...64,
    "num_blocks": 1...64,
    "num_heads": 1...1_024,
  ]

  /// `epsilon` (dqn) is a probability.
  public static let epsilonRange: ClosedRange<Double> = 0...1

  /// Refuses, naming the key, any known hyperparameter that is present but not a whole number
  /// in its range (absent ones are for the plugin to require).
  private func checkHyperparameters() throws {
    for (key, range) in Self.hyperparameterRanges.sorted(by: { $0.key < $1.key }) where fields[key] != nil {
      _ = try integer(key, in: range)
    }
    if fields["epsilon"] != nil {
      let epsilon = try double("epsilon")
      guard Self.epsilonRange.contains(epsilon) else {
        throw ModelManifestError(
          .invalidValue, path: path, key: "epsilon",
          message: "\"epsilon\" must be a probability in 0...1, but is \(epsilon)")
      }
    }
  }

  /// A whole number within `range`; `defaultValue` when the key is absent. Refused with the
  /// key named when outside, so no caller ever computes with an unchecked value.
  public func integer(_ key: String, default defaultValue: Int? = nil, in range: ClosedRange<Int>) throws -> Int {
    let value = try integer(key, default: defaultValue)
    guard range.contains(value) else {
      throw ModelManifestError(
        .invalidValue, path: path, key: key,
        message: "\"\(key)\" must be a whole number in \(range.lowerBound)...\(range.upperBound), but is \(value)")
    }
    return value
  }

  /// A whole-number value; `defaultValue` when the key is absent. Throws when the key is
  /// absent without a default, or holds anything but a whole number (3.0 and true included).
  public func integer(_ key: String, default defaultValue: Int? = nil) throws -> Int {
    switch fields[key] {
    case let value? where value.int != nil:
      return value.int!
    case nil:
      if let defaultValue { return defaultValue }
      throw ModelManifestError(
        .missingKey, path: path, key: key, message: "\"\(key)\" is required: add a whole number")
    case let other?:
      throw ModelManifestError(
        .wrongType, path: path, key: key,
        message: "\"\(key)\" must be a whole number, but is \(other.kindDescription)")
    }
  }

  /// A numeric value (whole or not); `defaultValue` when the key is absent.
  public func double(_ key: String, default defaultValue: Double? = nil) throws -> Double {
    switch fields[key] {
    case let value? where value.double != nil:
      return value.double!
    case nil:
      if let defaultValue { return defaultValue }
      throw ModelManifestError(
        .missingKey, path: path, key: key, message: "\"\(key)\" is required: add a number")
    case let other?:
      throw ModelManifestError(
        .wrongType, path: path, key: key,
        message: "\"\(key)\" must be a number, but is \(other.kindDescription)")
    }
  }

  /// Whether the manifest has `key` at all (with any value, null included).
  public func contains(_ key: String) -> Bool {
    fields[key] != nil
  }

  /// The file's bytes: a regular file of at most `maximumByteCount` (a FIFO named model.json
  /// would otherwise block the store's loader, and every reload and admin call after it, forever).
  private static func read(_ path: String) throws -> Data {
    do {
      return try CappedFile.read(atPath: path, maxBytes: maximumByteCount)
    } catch let error as CappedFile.TooLarge {
      let size = error.fileBytes.map { "has \($0) bytes" } ?? "grew while it was read"
      throw ModelManifestError(
        .cannotRead, path: path, message: "the file \(size), above the \(maximumByteCount)-byte limit for a model.json")
    } catch let error as CappedFile.Unreadable where error.notRegular {
      throw ModelManifestError(.cannotRead, path: path, message: "not a regular file; model.json must be a plain JSON file")
    } catch let error as CappedFile.Unreadable {
      throw ModelManifestError(
        .cannotRead, path: path, message: "cannot read the file (\(error.reason)); check that it exists and is readable")
    }
  }

  private static func optionalString(_ key: String, _ fields: [String: Value], path: String) throws
    -> String?
  {
    switch fields[key] {
    case nil, .null?:
      return nil
    case .string(let text)?:
      return text
    case let other?:
      throw ModelManifestError(
        .wrongType, path: path, key: key,
        message: "\"\(key)\" must be a string, but is \(other.kindDescription)")
    }
  }

  private static func checksum(_ value: Value?, path: String) throws -> String? {
    guard let text = try optionalString("sha256", ["sha256": value ?? .null], path: path) else {
      return nil
    }
    let hexDigits = Set("0123456789abcdefABCDEF")
    guard text.count == 64, text.allSatisfy(hexDigits.contains) else {
      throw ModelManifestError(
        .invalidValue, path: path, key: "sha256",
        message: "\"sha256\" must be 64 hexadecimal digits (the output of `sha256sum weights.safetensors`), but is \"\(text)\"")
    }
    // Lowercase so callers can compare with their own digest text directly.
    return text.lowercased()
  }
}

extension ModelManifest {
  fileprivate typealias Value = ManifestValue
}

/// Why a `model.json` was rejected: which file, which key, what to change.
public struct ModelManifestError: Error, CustomStringConvertible, Sendable {
  /// Extendable: new codes can be added without breaking callers that compare with these.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }

    public static let cannotRead = Code("cannotRead")
    public static let invalidJSON = Code("invalidJSON")
    public static let missingKey = Code("missingKey")
    public static let wrongType = Code("wrongType")
    public static let invalidValue = Code("invalidValue")
  }

  public let code: Code
  public let path: String
  public let key: String?
  public let message: String

  public init(_ code: Code, path: String, key: String? = nil, message: String) {
    self.code = code
    self.path = path
    self.key = key
    self.message = message
  }

  public var description: String {
    "model manifest '\(path)': \(message) [\(code)]"
  }
}

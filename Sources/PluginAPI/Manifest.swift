import Foundation

/// A version's model.json: the kind and its hyperparameters.
///
/// The manifest is untrusted input (its sha256 covers only the weights), so every read takes a
/// range: a plugin never computes with a value it did not bound, and a value outside is refused
/// with the key named.
public struct Manifest {
  public let json: String
  private let fields: [String: Any]

  public init(json: String) throws {
    self.json = json
    guard let data = json.data(using: .utf8),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { throw ModelError.invalidArgument("model.json is not a JSON object") }
    fields = object
  }

  /// A whole-number hyperparameter within `range`; `defaultValue` when absent. Refused: anything
  /// but a whole number written without a fraction or exponent (`3.0`, `1e3`, `true`, strings,
  /// arrays, objects) and whole numbers outside `range`.
  public func integer(_ key: String, default defaultValue: Int? = nil, in range: ClosedRange<Int>) throws -> Int {
    let expected = "a whole number in \(range.lowerBound)...\(range.upperBound)"
    guard let value = fields[key] else {
      if let defaultValue { return defaultValue }
      throw ModelError.invalidArgument("model.json: \"\(key)\" is required (\(expected))")
    }
    guard let number = value as? NSNumber, !Self.isBoolean(number), !Self.isFloatingPoint(number),
          let integer = value as? Int, range.contains(integer)
    else { throw ModelError.invalidArgument("model.json: \"\(key)\" must be \(expected), got \(Self.describe(value))") }
    return integer
  }

  /// A number hyperparameter within `range`; `defaultValue` when absent.
  public func number(_ key: String, default defaultValue: Double, in range: ClosedRange<Double>) throws -> Double {
    guard let value = fields[key] else { return defaultValue }
    guard let number = value as? NSNumber, !Self.isBoolean(number), range.contains(number.doubleValue) else {
      throw ModelError.invalidArgument("model.json: \"\(key)\" must be a number in \(range), got \(Self.describe(value))")
    }
    return number.doubleValue
  }

  /// A string hyperparameter that must be one of `choices`; `defaultValue` when absent.
  public func choice(_ key: String, among choices: [String], default defaultValue: String) throws -> String {
    guard let value = fields[key] else { return defaultValue }
    let listed = choices.map { "\"\($0)\"" }.joined(separator: ", ")
    guard let text = value as? String, choices.contains(text) else {
      throw ModelError.invalidArgument("model.json: \"\(key)\" must be one of \(listed), got \(Self.describe(value))")
    }
    return text
  }

  /// JSON true/false arrive as NSNumber too; on Linux `is Bool` also matches 0 and 1,
  /// so ask for the boxed type instead.
  private static func isBoolean(_ number: NSNumber) -> Bool {
    String(cString: number.objCType) == "c"
  }

  /// Written with a fraction or exponent (`3.0`, `1e300`), or too large for any integer type.
  private static func isFloatingPoint(_ number: NSNumber) -> Bool {
    ["d", "f"].contains(String(cString: number.objCType))
  }

  /// The value as the message shows it: `true`, `"text"`, `an object`, or the number.
  private static func describe(_ value: Any) -> String {
    switch value {
    case let number as NSNumber: return isBoolean(number) ? (number.boolValue ? "true" : "false") : "\(number)"
    case let text as String: return "the string \"\(text.prefix(40))\""
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    default: return "null"
    }
  }
}

extension Manifest {
  /// The ranges the bundled kinds use (models.md), the same the host checks before any plugin
  /// runs. Wide enough for any model these kinds can serve on one machine, narrow enough that
  /// sums and products of them (2d + C + F, candidates x F, L x d) cannot overflow an Int or
  /// ask for an absurd allocation.
  public enum Range {
    /// `context_dim` (C) and `candidate_feature_dim` (F): 0 allowed.
    public static let featureCount: ClosedRange<Int> = 0...65_536
    /// `max_history` (L): at least one event.
    public static let maxHistory: ClosedRange<Int> = 1...100_000
    /// `num_layers`, `num_blocks`.
    public static let depth: ClosedRange<Int> = 1...64
    /// `num_heads` (sasrec also requires it to divide d).
    public static let heads: ClosedRange<Int> = 1...1_024
  }
}

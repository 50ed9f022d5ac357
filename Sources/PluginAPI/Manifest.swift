import Foundation
import ManifestValue

/// A version's model.json: the kind and its hyperparameters.
///
/// The manifest is untrusted input (its sha256 covers only the weights), so every read takes a
/// range: a plugin never computes with a value it did not bound, and a value outside is refused
/// with the key named.
public struct Manifest {
  public let json: String
  private let fields: [String: ManifestValue]

  public init(json: String) throws {
    self.json = json
    do { fields = try ManifestValue.object(json: json) } catch {
      throw ModelError.invalidArgument("model.json is not a JSON object: \(error)")
    }
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
    guard let integer = value.int, range.contains(integer) else {
      throw ModelError.invalidArgument("model.json: \"\(key)\" must be \(expected), got \(value.kindDescription)")
    }
    return integer
  }

  /// A number hyperparameter within `range`; `defaultValue` when absent.
  public func number(_ key: String, default defaultValue: Double, in range: ClosedRange<Double>) throws -> Double {
    guard let value = fields[key] else { return defaultValue }
    guard let number = value.double, range.contains(number) else {
      throw ModelError.invalidArgument("model.json: \"\(key)\" must be a number in \(range), got \(value.kindDescription)")
    }
    return number
  }

  /// A string hyperparameter that must be one of `choices`; `defaultValue` when absent.
  public func choice(_ key: String, among choices: [String], default defaultValue: String) throws -> String {
    guard let value = fields[key] else { return defaultValue }
    let listed = choices.map { "\"\($0)\"" }.joined(separator: ", ")
    guard let text = value.string, choices.contains(text) else {
      throw ModelError.invalidArgument("model.json: \"\(key)\" must be one of \(listed), got \(value.kindDescription)")
    }
    return text
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

import Foundation

/// One model.json value, with the one rule both readers of model.json apply: the store when it
/// loads a version (ModelStore.ModelManifest) and the plugin when it reads its hyperparameters
/// (PluginAPI.Manifest). A whole number is a JSON number written without fraction or exponent
/// that fits an Int: `3` is one; `3.0`, `3e0`, `true` and 2^63 are not (they are numbers, or a
/// boolean, but never silently whole).
public enum ManifestValue: Sendable, Equatable {
  case integer(Int)
  case number(Double)
  case bool(Bool)
  case string(String)
  case null
  case array
  case object

  /// Why a text is not a model.json object (its reason, for the caller's message).
  public struct NotAnObject: Error, CustomStringConvertible {
    public let description: String
  }

  /// The top-level object of `json`, its values reduced to what the accessors distinguish.
  public static func object(json: String) throws -> [String: ManifestValue] {
    let parsed: Any
    do {
      parsed = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
    } catch {
      let reason = (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
      throw NotAnObject(description: "not valid JSON (\(reason))")
    }
    guard let object = parsed as? [String: Any] else {
      throw NotAnObject(description: "the JSON is \(ManifestValue(parsed).kindDescription), not an object")
    }
    return object.mapValues(ManifestValue.init)
  }

  init(_ value: Any) {
    switch value {
    case is NSNull: self = .null
    case let text as String: self = .string(text)
    case is [Any]: self = .array
    case is [String: Any]: self = .object
    case let number as NSNumber:
      // JSONSerialization returns booleans and numbers alike as NSNumber; the type encoding
      // separates them ("c" boolean, "d" written with a fraction or exponent). Checking
      // `is Bool` instead would also match the integers 0 and 1.
      switch String(cString: number.objCType) {
      case "c": self = .bool(number.boolValue)
      case "d", "f": self = .number(number.doubleValue)
      // Above Int.max: still a number, just not one to hand out as an Int.
      default: self = (value as? Int).map(ManifestValue.integer) ?? .number(number.doubleValue)
      }
    default: self = .object
    }
  }

  /// The whole number, or nil for anything else (`3.0` included).
  public var int: Int? {
    if case .integer(let value) = self { return value }
    return nil
  }

  /// Any number, whole or not.
  public var double: Double? {
    switch self {
    case .integer(let value): Double(value)
    case .number(let value): value
    default: nil
    }
  }

  public var string: String? {
    if case .string(let text) = self { return text }
    return nil
  }

  public var bool: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  /// The value as messages show it: `the number 3.0`, `the string "x"`, `an array`.
  public var kindDescription: String {
    switch self {
    case .integer(let value): "the number \(value)"
    case .number(let value): "the number \(value)"
    case .bool(let value): "the boolean \(value)"
    case .string(let text): "the string \"\(text.prefix(40))\""
    case .null: "null"
    case .array: "an array"
    case .object: "an object"
    }
  }
}

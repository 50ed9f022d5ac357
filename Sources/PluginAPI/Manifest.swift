import Foundation

/// A version's model.json: the kind and its hyperparameters.
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

  /// A non-negative integer hyperparameter; `defaultValue` when absent.
  public func integer(_ key: String, default defaultValue: Int? = nil) throws -> Int {
    guard let value = fields[key] else {
      if let defaultValue { return defaultValue }
      throw ModelError.invalidArgument("model.json: \"\(key)\" is required (an integer >= 0)")
    }
    guard let number = value as? NSNumber, !Self.isBoolean(number),
          number.doubleValue == number.doubleValue.rounded(), number.intValue >= 0
    else { throw ModelError.invalidArgument("model.json: \"\(key)\" must be an integer >= 0, got \(value)") }
    return number.intValue
  }

  /// A number hyperparameter within `range`; `defaultValue` when absent.
  public func number(_ key: String, default defaultValue: Double, in range: ClosedRange<Double>) throws -> Double {
    guard let value = fields[key] else { return defaultValue }
    guard let number = value as? NSNumber, !Self.isBoolean(number), range.contains(number.doubleValue) else {
      throw ModelError.invalidArgument("model.json: \"\(key)\" must be a number in \(range), got \(value)")
    }
    return number.doubleValue
  }

  /// JSON true/false arrive as NSNumber too; on Linux `is Bool` also matches 0 and 1,
  /// so ask for the boxed type instead.
  private static func isBoolean(_ number: NSNumber) -> Bool {
    String(cString: number.objCType) == "c"
  }
}

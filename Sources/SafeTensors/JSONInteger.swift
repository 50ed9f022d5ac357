import Foundation

/// What a JSON value parsed by `JSONSerialization` is, when an integer is wanted.
enum JSONInteger {
  case integer(Int)
  /// An integer literal too large for `Int` (the parser keeps those as unsigned 64-bit).
  case tooLarge
  /// Anything else: a string, a fraction, a boolean, null, an array, an object.
  case notInteger

  init(_ value: Any) {
    // JSONSerialization returns booleans and every number as NSNumber; its type encoding tells
    // them apart: "c" for a boolean, "d" for a literal with a fraction or exponent, an integer
    // code otherwise. Without this check `true` would read as 1 and `3.0` as 3.
    guard let number = value as? NSNumber else {
      self = .notInteger
      return
    }
    switch String(cString: number.objCType) {
    case "c", "d", "f":
      self = .notInteger
    default:
      if let integer = value as? Int {
        self = .integer(integer)
      } else {
        self = .tooLarge
      }
    }
  }
}

import CRecSysPlugin

/// One `recsys_tensor_spec` of a plugin, parsed.
public struct TensorRequirement: CustomStringConvertible, Sendable {
  public enum Dimension: Equatable, Sendable {
    case any
    case fixed(Int)
    /// `multiple * symbol`, e.g. 4*H; a plain symbol has multiple 1.
    case symbol(String, multiple: Int)
  }

  public let name: String
  public let dtype: String
  public let shape: [Dimension]
  public let shapeText: String
  public let required: Bool

  /// For a pattern name ("mlp.{n}.weight"): the text before and after "{n}".
  var pattern: (prefix: Substring, suffix: Substring)? {
    guard let range = name.range(of: "{n}") else { return nil }
    return (name[..<range.lowerBound], name[range.upperBound...])
  }

  init(_ spec: recsys_tensor_spec) throws {
    name = String(cString: spec.name)
    switch spec.dtype {
    case RECSYS_DTYPE_F32: dtype = "F32"
    case RECSYS_DTYPE_I64: dtype = "I64"
    default: throw PluginError("tensor spec \"\(name)\" has unknown dtype \(spec.dtype.rawValue)")
    }
    shapeText = String(cString: spec.shape)
    required = spec.required != 0
    shape = try shapeText.split(separator: ",", omittingEmptySubsequences: false).map { part in
      let text = part.trimmingCharacters(in: .whitespaces)
      if text == "*" { return .any }
      if let number = Int(text), number >= 0 { return .fixed(number) }
      let factors = text.split(separator: "*")
      if factors.count == 2, let multiple = Int(factors[0]), multiple > 0, Self.isSymbol(factors[1]) {
        return .symbol(String(factors[1]), multiple: multiple)
      }
      if factors.count == 1, Self.isSymbol(factors[0]) { return .symbol(text, multiple: 1) }
      throw PluginError("tensor spec \"\(String(cString: spec.name))\" has a bad shape \"\(String(cString: spec.shape))\"")
    }
  }

  private static func isSymbol(_ text: Substring) -> Bool {
    guard let first = text.first, first.isLetter || first == "_" else { return false }
    return text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
  }

  public var description: String { "\(name) \(dtype) [\(shapeText)]" }
}

import Foundation  // trimmingCharacters

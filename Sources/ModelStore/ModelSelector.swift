/// Names which model, and which of its versions, should serve: `name` (the version
/// the model's policy serves), `name@7` (that version) or `name@stable` (a label).
public struct ModelSelector: Hashable, Sendable, CustomStringConvertible {
  public enum Version: Hashable, Sendable {
    case serving
    case number(Int)
    case label(String)
  }

  public var model: String
  public var version: Version

  public init(model: String, version: Version = .serving) {
    self.model = model
    self.version = version
  }

  /// Parses a selector; the error says what a valid one looks like.
  public init(parsing text: String) throws {
    // The common case, a bare name, without splitting or copying.
    if Self.isName(text) {
      model = text
      version = .serving
      return
    }
    let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
    let name = String(parts[0])
    guard Self.isName(name) else {
      throw SelectorError(text, "the model name must be letters, digits, '_', '-' or '.'")
    }
    model = name
    guard parts.count == 2 else {
      version = .serving
      return
    }
    let suffix = String(parts[1])
    if let first = suffix.first, first.isASCII, first.isNumber {
      guard let number = Int(suffix), number > 0, String(number) == suffix else {
        throw SelectorError(text, "a version must be a positive integer without leading zeros")
      }
      version = .number(number)
    } else if Self.isName(suffix), let first = suffix.unicodeScalars.first, first.properties.isAlphabetic {
      version = .label(suffix)
    } else {
      throw SelectorError(text, "after '@' put a version number or a label starting with a letter")
    }
  }

  /// The rule for model names, and for the other names that travel with them (experiment keys,
  /// arm names): ASCII letters, digits, '_', '-', '.'; 1 to 128 of them. Runs on every call that
  /// names a model, so it reads bytes, not Unicode properties.
  public static func isName(_ text: String) -> Bool {
    let bytes = text.utf8
    return !bytes.isEmpty && bytes.count <= 128 && bytes.allSatisfy { byte in
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
        return true
      default:
        return false
      }
    }
  }

  public var description: String {
    switch version {
    case .serving: return model
    case .number(let number): return "\(model)@\(number)"
    case .label(let label): return "\(model)@\(label)"
    }
  }
}

public struct SelectorError: Error, CustomStringConvertible {
  public let description: String

  init(_ text: String, _ reason: String) {
    description = "model selector \"\(text)\" is not valid: \(reason) (examples: \"mlp\", \"mlp@3\", \"mlp@stable\")"
  }
}

/// Values echoed in error messages are cut, so that no message grows with its input: a 8 MB salt
/// once made `recsysctl experiments show` fail because the refusal quoting it exceeded gRPC's
/// message size.
public enum Excerpt {
  /// Bytes of a value a message quotes.
  public static let valueBytes = 64
  /// The longest whole message (a backstop for messages listing many values).
  public static let messageBytes = 2_048

  /// `text` itself when short, else its first `limit` bytes (whole characters) and
  /// "… (N bytes)".
  public static func of(_ text: String, limit: Int = valueBytes) -> String {
    let count = text.utf8.count
    guard count > limit else { return text }
    var end = text.utf8.index(text.utf8.startIndex, offsetBy: limit)
    // Step back to a character boundary so no UTF-8 sequence is cut in half.
    while end > text.startIndex && String.Index(end, within: text) == nil { end = text.utf8.index(before: end) }
    return "\(text[..<end])… (\(count) bytes)"
  }

  /// A whole message, cut at `messageBytes`.
  public static func message(_ text: String) -> String { of(text, limit: messageBytes) }
}

/// Why an experiments file was refused. `description` starts with the file's name (and line,
/// when known) and says what to change.
public struct ExperimentsConfigError: Error, Equatable, CustomStringConvertible {
  /// The name the file was loaded under, e.g. its path.
  public let source: String
  /// 1-based line of the offending text, when known.
  public let line: Int?
  public let message: String

  /// `message` is cut at `Excerpt.messageBytes`: a refusal travels in `recsysctl experiments
  /// show`, so it must never grow with the file.
  public init(source: String, line: Int?, message: String) {
    self.source = Excerpt.of(source, limit: 512)
    self.line = line
    self.message = Excerpt.message(message)
  }

  public var description: String {
    if let line { return "\(source):\(line): \(message)" }
    return "\(source): \(message)"
  }
}

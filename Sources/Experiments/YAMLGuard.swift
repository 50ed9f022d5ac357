import CYaml

/// Checks a YAML text against `YAMLLimits` before anything composes it, by walking libyaml's
/// event stream in a loop: nothing here recurses or expands, so the check itself costs one pass
/// over at most `maxBytes` bytes whatever the text is.
///
/// Anchors (`&name`) and aliases (`*name`) are refused outright: neither file the sidecar reads
/// needs them, and an alias is how a few hundred bytes become billions of nodes.
/// Syntax errors are left to Yams, which reports them with its usual wording: libyaml stops at
/// the same event in both passes, and every event before it was within the limits.
public enum YAMLGuard {
  public struct Refusal: Error, Equatable, CustomStringConvertible {
    /// 1-based line of the offending text, when known.
    public let line: Int?
    public let message: String

    public var description: String { line.map { "line \($0): \(message)" } ?? message }
  }

  public static func check(_ text: String, limits: YAMLLimits = .standard) throws {
    var text = text
    try text.withUTF8 { bytes in try check(bytes, limits: limits) }
  }

  public static func check(_ bytes: UnsafeBufferPointer<UInt8>, limits: YAMLLimits = .standard) throws {
    guard bytes.count <= limits.maxBytes else {
      throw Refusal(line: nil, message: "the file is \(bytes.count) bytes, above the limit of \(limits.maxBytes) bytes")
    }
    guard let start = bytes.baseAddress, bytes.count > 0 else { return }  // libyaml wants a non-NULL input
    var parser = yaml_parser_t()
    guard yaml_parser_initialize(&parser) == 1 else {
      throw Refusal(line: nil, message: "cannot start the YAML parser (out of memory)")
    }
    defer { yaml_parser_delete(&parser) }
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
    yaml_parser_set_input_string(&parser, start, bytes.count)

    var depth = 0
    var nodes = 0
    while true {
      var event = yaml_event_t()
      guard yaml_parser_parse(&parser, &event) == 1 else { return }  // a syntax error: Yams reports it
      defer { yaml_event_delete(&event) }
      let line = Int(event.start_mark.line) + 1
      func refuse(_ message: String) -> Refusal { Refusal(line: line, message: message) }
      var anchor: UnsafeMutablePointer<yaml_char_t>?
      switch event.type {
      case YAML_STREAM_END_EVENT:
        return
      case YAML_ALIAS_EVENT:
        throw refuse("aliases (*name) are not allowed in this file: write the value out where it is used")
      case YAML_SCALAR_EVENT:
        anchor = event.data.scalar.anchor
        nodes += 1
        if event.data.scalar.length > limits.maxScalarBytes {
          throw refuse("a value of \(event.data.scalar.length) bytes is above the limit of \(limits.maxScalarBytes) bytes")
        }
      case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
        anchor = event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
        nodes += 1
        depth += 1
        if depth > limits.maxDepth {
          throw refuse("lists and mappings are nested more than \(limits.maxDepth) levels deep (the limit)")
        }
      case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
        depth -= 1
      default:
        break
      }
      if anchor != nil {
        throw refuse("anchors (&name) are not allowed in this file: write the value out where it is used")
      }
      if nodes > limits.maxNodes {
        throw refuse("the file has more than \(limits.maxNodes) values, lists and mappings (the limit)")
      }
    }
  }
}

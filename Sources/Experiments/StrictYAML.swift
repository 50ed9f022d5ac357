import ModelStore
import Yams

/// Reads composed YAML nodes strictly, so every mistake in a hand-edited file is refused with its
/// line rather than read as something else: repeated keys, unknown fields, a number where text
/// is meant, `yes` for a boolean. Each failure names its place, e.g. `experiment "home-ranker",
/// arm "treatment"`.
struct StrictYAML {
  let source: String

  func failure(_ node: Node?, _ message: String) -> ExperimentsConfigError {
    ExperimentsConfigError(source: source, line: node?.mark?.line, message: message)
  }

  /// The document's root, or nil for an empty one. `YAMLGuard` runs first: Yams' composer
  /// must never see a deep nesting or an alias (see `YAMLLimits`).
  func compose(_ yaml: String, limits: YAMLLimits = ExperimentsLimits.yaml) throws -> Node? {
    do {
      try YAMLGuard.check(yaml, limits: limits)
    } catch let refusal as YAMLGuard.Refusal {
      throw ExperimentsConfigError(source: source, line: refusal.line, message: refusal.message)
    }
    let root: Node?
    do {
      root = try Yams.compose(yaml: yaml)
    } catch let error as YamlError {
      throw syntaxError(error)
    }
    if let root { try rejectRepeatedKeys(root) }
    return root
  }

  private func syntaxError(_ error: YamlError) -> ExperimentsConfigError {
    func message(_ problem: String, _ context: YamlError.Context?) -> String {
      let within = context.map { " (\($0.text), line \($0.mark.line))" } ?? ""
      return "not valid YAML: \(problem)\(within)"
    }
    switch error {
    case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
      let .composer(context, problem, mark, _):
      return ExperimentsConfigError(source: source, line: mark.line, message: message(problem, context))
    default:
      return ExperimentsConfigError(source: source, line: nil, message: "not valid YAML: \(error)")
    }
  }

  /// Yams 5 keeps the last of repeated mapping keys without a word; a repeated `weight` would
  /// silently change an experiment, so the whole tree is checked.
  private func rejectRepeatedKeys(_ node: Node) throws {
    switch node {
    case .scalar:
      return
    case .sequence(let sequence):
      for element in sequence { try rejectRepeatedKeys(element) }
    case .mapping(let mapping):
      var firstLines: [String: Int?] = [:]
      for (key, value) in mapping {
        guard let name = key.scalar?.string else {
          throw failure(key, "mapping keys must be plain names, not lists or mappings")
        }
        if let firstLine = firstLines[name] {
          let first = firstLine.map { " (first at line \($0))" } ?? ""
          throw failure(key, "key \"\(Excerpt.of(name))\" appears twice in one mapping\(first); keep one")
        }
        firstLines[name] = key.mark?.line
        try rejectRepeatedKeys(value)
      }
    }
  }

  /// A mapping's fields by name; a field not in `allowed` is refused with the allowed list.
  func fields(_ node: Node, place: String, allowed: [String], example: String) throws -> [String: Node] {
    guard let mapping = node.mapping else {
      throw failure(node, "\(place): expected a mapping like \(example)")
    }
    var fields: [String: Node] = [:]
    for (key, value) in mapping {
      let name = key.scalar?.string ?? ""
      guard allowed.contains(name) else {
        let suggestion = closest(to: name, among: allowed).map { " (did you mean \"\($0)\"?)" } ?? ""
        throw failure(
          key, "\(place): unknown field \"\(Excerpt.of(name))\"\(suggestion); allowed: \(allowed.joined(separator: ", "))")
      }
      fields[name] = value
    }
    return fields
  }

  /// A scalar's text as written. Null (`field:` with nothing after it) is refused.
  func text(_ node: Node, place: String, field: String) throws -> String {
    guard let scalar = node.scalar else {
      throw failure(node, "\(place): \(field) must be a single value, not a list or mapping")
    }
    guard node.tag != Tag(.null) else {
      throw failure(node, "\(place): \(field) has no value")
    }
    return scalar.string
  }

  /// Text that feeds the assignment hash must be a YAML string: `salt: 2026.10` reads as the
  /// number 2026.1 in most YAML libraries, and a service hashing that would place users elsewhere.
  func hashedText(_ node: Node, place: String, field: String) throws -> String {
    let value = try text(node, place: place, field: field)
    guard node.tag == Tag(.str) else {
      throw failure(
        node, "\(place): \(field) \(Excerpt.of(value)) is not a string in YAML; quote it: \(field): \"\(Excerpt.of(value))\"")
    }
    return value
  }

  /// A decimal number, unquoted and finite.
  func number(_ node: Node, place: String, field: String) throws -> Double {
    let value = try text(node, place: place, field: field)
    guard node.scalar?.style == .plain else {
      throw failure(node, "\(place): \(field) must be a number without quotes, got \"\(Excerpt.of(value))\"")
    }
    guard let number = Double(value), number.isFinite else {
      throw failure(node, "\(place): \(field) must be a number, got \"\(Excerpt.of(value))\"")
    }
    return number
  }

  /// A decimal integer, unquoted. (Yams would read `010` as octal 8.)
  func integer(_ node: Node, place: String, field: String) throws -> Int {
    let value = try text(node, place: place, field: field)
    guard node.scalar?.style == .plain, let integer = Int(value) else {
      throw failure(node, "\(place): \(field) must be a whole number without quotes, got \"\(Excerpt.of(value))\"")
    }
    return integer
  }

  /// `true` or `false` exactly (not YAML 1.1's yes/no/on/off).
  func boolean(_ node: Node, place: String, field: String) throws -> Bool {
    let value = try text(node, place: place, field: field)
    guard node.scalar?.style == .plain, value == "true" || value == "false" else {
      throw failure(node, "\(place): \(field) must be true or false, got \"\(Excerpt.of(value))\"")
    }
    return value == "true"
  }

  func selector(_ node: Node, place: String, field: String) throws -> ModelSelector {
    let value = try text(node, place: place, field: field)
    guard value.utf8.count <= ExperimentsLimits.maxSelectorBytes else {
      throw failure(
        node, "\(place): \(field) \"\(Excerpt.of(value))\" is longer than \(ExperimentsLimits.maxSelectorBytes) bytes "
          + "(a model name and a version or label of at most 128 each)")
    }
    do {
      return try ModelSelector(parsing: value)
    } catch let error as SelectorError {
      throw failure(node, "\(place): \(field): \(error)")
    }
  }

  /// The allowed name within edit distance 2 of a typo, if exactly one is closest.
  private func closest(to name: String, among allowed: [String]) -> String? {
    let scored = allowed.map { (name: $0, distance: editDistance(Array(name), Array($0))) }
      .filter { $0.distance <= 2 }
      .sorted { $0.distance < $1.distance }
    guard let best = scored.first else { return nil }
    return scored.dropFirst().first?.distance == best.distance ? nil : best.name
  }

  private func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    var previous = Array(0...b.count)
    for (i, left) in a.enumerated() {
      var current = [i + 1]
      for (j, right) in b.enumerated() {
        current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (left == right ? 0 : 1)))
      }
      previous = current
    }
    return previous[b.count]
  }
}

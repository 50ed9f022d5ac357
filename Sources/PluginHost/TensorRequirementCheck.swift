/// Checks a version's tensors against a kind's requirements before the plugin sees
/// them: every required tensor present, nothing unexpected, dtypes and shapes right,
/// and each shape symbol ("N", "d") the same wherever it appears.
public enum TensorRequirementCheck {
  public static func check(_ tensors: [TensorView], against requirements: [TensorRequirement], kind: String) throws {
    let exactNames = Set(requirements.filter { $0.pattern == nil }.map(\.name))
    var symbols: [String: (value: Int, from: String)] = [:]
    var matched = Set<String>()
    let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    for requirement in requirements {
      let matches: [TensorView]
      if let (prefix, suffix) = requirement.pattern {
        matches = tensors.filter { tensor in
          guard !exactNames.contains(tensor.name), tensor.name.hasPrefix(prefix), tensor.name.hasSuffix(suffix),
                tensor.name.count > prefix.count + suffix.count
          else { return false }
          let index = tensor.name.dropFirst(prefix.count).dropLast(suffix.count)
          return index.allSatisfy(\.isASCII) && index.allSatisfy(\.isNumber)
        }.sorted { $0.name < $1.name }
      } else {
        matches = byName[requirement.name].map { [$0] } ?? []
      }
      if matches.isEmpty && requirement.required {
        throw PluginError("tensor \"\(requirement.name)\" (\(requirement.dtype) [\(requirement.shapeText)]) is missing; "
          + "a \"\(kind)\" model needs it")
      }
      for tensor in matches {
        matched.insert(tensor.name)
        try check(tensor, requirement, &symbols)
      }
    }
    if let extra = tensors.map(\.name).sorted().first(where: { !matched.contains($0) }) {
      throw PluginError("tensor \"\(extra)\" is unexpected: a \"\(kind)\" model does not use it (remove it from the file)")
    }
  }

  private static func check(_ tensor: TensorView, _ requirement: TensorRequirement,
                            _ symbols: inout [String: (value: Int, from: String)]) throws {
    guard tensor.dtype == requirement.dtype else {
      throw PluginError("tensor \"\(tensor.name)\" is \(tensor.dtype); expected \(requirement.dtype)")
    }
    let mismatch = PluginError(
      "tensor \"\(tensor.name)\" has shape \(tensor.shape); expected [\(requirement.shapeText)]"
        + boundSymbols(requirement, symbols))
    guard tensor.shape.count == requirement.shape.count else { throw mismatch }
    for (size, dimension) in zip(tensor.shape, requirement.shape) {
      switch dimension {
      case .any: continue
      case .fixed(let expected): guard size == expected else { throw mismatch }
      case .symbol(let symbol, let multiple):
        guard size % multiple == 0 else { throw mismatch }
        if let bound = symbols[symbol] {
          guard bound.value * multiple == size else { throw mismatch }
        } else {
          symbols[symbol] = (size / multiple, tensor.name)
        }
      }
    }
  }

  private static func boundSymbols(_ requirement: TensorRequirement, _ symbols: [String: (value: Int, from: String)]) -> String {
    var used: [String] = []
    for case .symbol(let name, _) in requirement.shape {
      guard let bound = symbols[name] else { continue }
      let text = "\(name) = \(bound.value) (from \(bound.from))"
      if !used.contains(text) { used.append(text) }
    }
    return used.isEmpty ? "" : " where " + used.joined(separator: ", ")
  }
}

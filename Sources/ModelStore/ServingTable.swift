/// An immutable snapshot of what serves: replaced whole, never mutated, so a request
/// that read it sees one consistent state.
struct ServingTable {
  struct Model {
    var serving: ServingModel?
    var byVersion: [Int: ServingModel]
    var labels: [String: Int]
  }

  var models: [String: Model]

  func resolve(_ selector: ModelSelector, statuses: (String) -> ModelStatus?) throws -> ServingModel {
    guard let model = models[selector.model] else {
      let names = models.keys.sorted().joined(separator: ", ")
      throw RegistryError(.notFound,
        "model \"\(selector.model)\" does not exist; serving models: \(names.isEmpty ? "none" : names)")
    }
    switch selector.version {
    case .serving:
      guard let serving = model.serving else {
        let reason = statuses(selector.model)?.error ?? ""
        throw RegistryError(.notFound, "model \"\(selector.model)\" has no version serving\(reason.isEmpty ? "" : ": \(reason)")")
      }
      return serving
    case .number(let number):
      guard let version = model.byVersion[number] else {
        let available = model.byVersion.keys.sorted().map(String.init).joined(separator: ", ")
        throw RegistryError(.notFound,
          "model \"\(selector.model)\" version \(number) is not loaded; loaded versions: \(available.isEmpty ? "none" : available)")
      }
      return version
    case .label(let label):
      guard let number = model.labels[label], let version = model.byVersion[number] else {
        let labels = model.labels.keys.sorted().joined(separator: ", ")
        throw RegistryError(.notFound,
          "model \"\(selector.model)\" has no label \"\(label)\"; labels: \(labels.isEmpty ? "none" : labels)")
      }
      return version
    }
  }
}

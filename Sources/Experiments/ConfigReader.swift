import ModelStore
import Yams

/// Turns an experiments file into an `ExperimentsConfig`, refusing anything the format (see
/// `ExperimentsConfig`) does not allow. The first problem found is reported.
struct ConfigReader {
  let yaml: StrictYAML

  init(source: String) {
    yaml = StrictYAML(source: source)
  }

  static let topFields = ["default_model", "experiments"]
  static let experimentFields = [
    "key", "salt", "match", "holdout", "mode", "min_share", "arms", "shadow", "feedback_ttl", "ope_sample_percent",
  ]
  /// feedback_ttl bounds, in seconds: a minute to a year.
  static let feedbackTTLRange = 60...31_622_400
  static let matchFields = ["surface", "min_history", "max_history", "whole_catalog"]
  static let armFields = ["name", "model", "weight"]
  /// Fixed-mode weights must sum to 100 within this.
  static let weightTolerance = 1e-6

  func read(_ text: String) throws -> ExperimentsConfig {
    guard let root = try yaml.compose(text) else {
      throw yaml.failure(nil, "the file is empty; write \"experiments: []\" to run no experiments")
    }
    let fields = try yaml.fields(
      root, place: "top level", allowed: Self.topFields, example: "{default_model: mlp, experiments: [...]}")
    let defaultModel = try fields["default_model"].map {
      try yaml.selector($0, place: "top level", field: "default_model")
    }
    guard let list = fields["experiments"] else {
      throw yaml.failure(root, "top level: \"experiments\" is required (a list; [] for none)")
    }
    guard let entries = list.sequence else {
      throw yaml.failure(list, "top level: experiments must be a list (\"- key: ...\" entries, or [] for none)")
    }
    guard entries.count <= ExperimentsLimits.maxExperiments else {
      throw yaml.failure(
        list, "top level: \(entries.count) experiments, above the limit of \(ExperimentsLimits.maxExperiments)")
    }
    var experiments: [Experiment] = []
    var keyLines: [String: Int?] = [:]
    for (index, entry) in entries.enumerated() {
      let experiment = try readExperiment(entry, index: index)
      if let firstLine = keyLines[experiment.key] {
        let first = firstLine.map { " (first at line \($0))" } ?? ""
        throw yaml.failure(
          entry, "experiments[\(index)]: key \"\(experiment.key)\" is already used\(first); keys must be unique")
      }
      keyLines[experiment.key] = entry.mark?.line
      experiments.append(experiment)
    }
    return ExperimentsConfig(defaultModel: defaultModel, experiments: experiments, source: yaml.source)
  }

  private func readExperiment(_ node: Node, index: Int) throws -> Experiment {
    let fields = try yaml.fields(
      node, place: Self.place(of: node, naming: "key", prefix: "experiment", fallback: "experiments[\(index)]"),
      allowed: Self.experimentFields, example: "{key: home-ranker, salt: \"1\", arms: [...]}")
    guard let keyNode = fields["key"] else {
      throw yaml.failure(node, "experiments[\(index)]: \"key\" is required (letters, digits, '-', '_', '.')")
    }
    let key = try yaml.hashedText(keyNode, place: "experiments[\(index)]", field: "key")
    guard Self.isName(key) else {
      throw yaml.failure(
        keyNode, "experiments[\(index)]: key \"\(Excerpt.of(key))\" must be 1 to 128 letters, digits, '-', '_' or '.'")
    }
    let place = "experiment \"\(key)\""
    guard let saltNode = fields["salt"] else {
      throw yaml.failure(node, "\(place): \"salt\" is required (any string, e.g. salt: \"2026-11\"; \"\" is allowed)")
    }
    let salt = try yaml.hashedText(saltNode, place: place, field: "salt")
    guard salt.utf8.count <= ExperimentsLimits.maxSaltBytes else {
      throw yaml.failure(
        saltNode, "\(place): salt \"\(Excerpt.of(salt))\" is above the limit of \(ExperimentsLimits.maxSaltBytes) bytes")
    }

    let mode = try fields["mode"].map { try readMode($0, place: place) } ?? .fixed
    let match = try fields["match"].map { try readMatch($0, place: place) } ?? Match()
    let holdout = try fields["holdout"].map { try readHoldout($0, place: place) } ?? 0
    let shadow = try fields["shadow"].map { try yaml.selector($0, place: place, field: "shadow") }
    guard let armsNode = fields["arms"] else {
      throw yaml.failure(node, "\(place): \"arms\" is required (a list of {name, model, weight})")
    }
    let arms = try readArms(armsNode, place: place, mode: mode)
    var minShare = 0.0
    if let minShareNode = fields["min_share"] {
      guard mode == .thompson else {
        throw yaml.failure(
          minShareNode, "\(place): min_share applies only to mode: thompson; remove it or set the mode")
      }
      minShare = try readMinShare(minShareNode, place: place, armCount: arms.count)
    }
    var feedbackTTL: Int?
    if let ttlNode = fields["feedback_ttl"] {
      let ttl = try yaml.integer(ttlNode, place: place, field: "feedback_ttl")
      guard Self.feedbackTTLRange.contains(ttl) else {
        throw yaml.failure(
          ttlNode, "\(place): feedback_ttl \(ttl) must be from \(Self.feedbackTTLRange.lowerBound) to "
            + "\(Self.feedbackTTLRange.upperBound) seconds")
      }
      feedbackTTL = ttl
    }
    var opeSample = 0.0
    if let opeNode = fields["ope_sample_percent"] {
      opeSample = try yaml.number(opeNode, place: place, field: "ope_sample_percent")
      guard opeSample >= 0 && opeSample <= 100 else {
        throw yaml.failure(
          opeNode, "\(place): ope_sample_percent \(Self.format(opeSample)) must be from 0 to 100 (the percent of "
            + "shadowed requests logged for off-policy evaluation)")
      }
      guard shadow != nil || opeSample == 0 else {
        throw yaml.failure(
          opeNode, "\(place): ope_sample_percent needs a shadow (the candidate model whose ranking is logged)")
      }
    }
    return Experiment(
      key: key, salt: salt, match: match, holdoutPercent: holdout, mode: mode, minSharePercent: minShare,
      arms: arms, shadow: shadow, feedbackTTLSeconds: feedbackTTL, opeSamplePercent: opeSample)
  }

  private func readMode(_ node: Node, place: String) throws -> Experiment.Mode {
    let text = try yaml.text(node, place: place, field: "mode")
    guard let mode = Experiment.Mode(rawValue: text) else {
      let modes = Experiment.Mode.allCases.map(\.rawValue).joined(separator: " or ")
      throw yaml.failure(node, "\(place): mode \"\(Excerpt.of(text))\" is not one of \(modes)")
    }
    return mode
  }

  private func readHoldout(_ node: Node, place: String) throws -> Double {
    let holdout = try yaml.number(node, place: place, field: "holdout")
    guard holdout >= 0 && holdout < 100 else {
      throw yaml.failure(
        node, "\(place): holdout \(Self.format(holdout)) must be at least 0 and below 100 "
          + "(the percent of matched users served the default model)")
    }
    return holdout
  }

  private func readMinShare(_ node: Node, place: String, armCount: Int) throws -> Double {
    let minShare = try yaml.number(node, place: place, field: "min_share")
    let ceiling = 100 / Double(max(armCount, 1))
    guard minShare >= 0 && minShare <= ceiling + Self.weightTolerance else {
      throw yaml.failure(
        node, "\(place): min_share \(Self.format(minShare)) must be between 0 and \(Self.format(ceiling)) "
          + "(100 / \(armCount) arms): every arm keeps that percent of requests")
    }
    return minShare
  }

  private func readMatch(_ node: Node, place: String) throws -> Match {
    let place = "\(place), match"
    let fields = try yaml.fields(
      node, place: place, allowed: Self.matchFields, example: "{surface: [home, pdp], min_history: 1}")
    var match = Match()
    if let surfaceNode = fields["surface"] {
      let surfaceNodes = surfaceNode.sequence.map(Array.init) ?? [surfaceNode]
      guard !surfaceNodes.isEmpty else {
        throw yaml.failure(surfaceNode, "\(place): surface is an empty list, so nothing would match; remove it or name surfaces")
      }
      guard surfaceNodes.count <= ExperimentsLimits.maxSurfaces else {
        throw yaml.failure(
          surfaceNode, "\(place): \(surfaceNodes.count) surfaces, above the limit of \(ExperimentsLimits.maxSurfaces)")
      }
      match.surfaces = try surfaceNodes.map { try readSurface($0, place: place) }
    }
    match.minHistory = try fields["min_history"].map { try readHistoryBound($0, place: place, field: "min_history") }
    match.maxHistory = try fields["max_history"].map { try readHistoryBound($0, place: place, field: "max_history") }
    if let low = match.minHistory, let high = match.maxHistory, low > high {
      throw yaml.failure(
        fields["max_history"], "\(place): min_history \(low) is above max_history \(high), so nothing would match")
    }
    match.wholeCatalog = try fields["whole_catalog"].map { try yaml.boolean($0, place: place, field: "whole_catalog") }
    return match
  }

  private func readSurface(_ node: Node, place: String) throws -> String {
    let surface = try yaml.text(node, place: place, field: "surface")
    guard surface.utf8.count <= ExperimentsLimits.maxSurfaceBytes else {
      throw yaml.failure(
        node, "\(place): surface \"\(Excerpt.of(surface))\" is above the limit of \(ExperimentsLimits.maxSurfaceBytes) bytes")
    }
    return surface
  }

  private func readHistoryBound(_ node: Node, place: String, field: String) throws -> Int {
    let bound = try yaml.integer(node, place: place, field: field)
    guard bound >= 0 else {
      throw yaml.failure(node, "\(place): \(field) \(bound) must be 0 or more (it bounds the history length)")
    }
    return bound
  }

  private func readArms(_ node: Node, place: String, mode: Experiment.Mode) throws -> [Arm] {
    guard let entries = node.sequence else {
      throw yaml.failure(node, "\(place): arms must be a list of {name, model, weight}")
    }
    guard !entries.isEmpty else {
      throw yaml.failure(node, "\(place): arms is empty; an experiment needs at least one arm (the first is the control)")
    }
    guard entries.count <= ExperimentsLimits.maxArms else {
      throw yaml.failure(node, "\(place): \(entries.count) arms, above the limit of \(ExperimentsLimits.maxArms)")
    }
    var arms: [(arm: Arm, node: Node)] = []
    for (index, entry) in entries.enumerated() {
      let arm = try readArm(entry, place: "\(place), arms[\(index)]", experimentPlace: place, mode: mode)
      if arms.contains(where: { $0.arm.name == arm.name }) {
        throw yaml.failure(entry, "\(place): arm name \"\(arm.name)\" is used twice; arm names must be unique")
      }
      arms.append((arm, entry))
    }
    if mode == .fixed { try checkWeights(arms, place: place, node: node) }
    return arms.map(\.arm)
  }

  private func readArm(_ node: Node, place: String, experimentPlace: String, mode: Experiment.Mode) throws -> Arm {
    let fields = try yaml.fields(
      node, place: Self.place(of: node, naming: "name", prefix: "\(experimentPlace), arm", fallback: place),
      allowed: Self.armFields, example: "{name: treatment, model: lstm@stable, weight: 50}")
    guard let nameNode = fields["name"] else {
      throw yaml.failure(node, "\(place): \"name\" is required")
    }
    let name = try yaml.text(nameNode, place: place, field: "name")
    guard Self.isName(name) else {
      throw yaml.failure(nameNode, "\(place): arm name \"\(Excerpt.of(name))\" must be 1 to 128 letters, digits, '-', '_' or '.'")
    }
    guard name.lowercased() != Arm.holdoutName else {
      throw yaml.failure(
        nameNode, "\(experimentPlace): arm name \"\(name)\" is reserved for the held-out users; rename the arm")
    }
    let armPlace = "\(experimentPlace), arm \"\(name)\""
    guard let modelNode = fields["model"] else {
      throw yaml.failure(node, "\(armPlace): \"model\" is required (e.g. mlp, mlp@3, mlp@stable)")
    }
    let model = try yaml.selector(modelNode, place: armPlace, field: "model")
    var weight = 0.0
    if let weightNode = fields["weight"] {
      weight = try yaml.number(weightNode, place: armPlace, field: "weight")
      if mode == .fixed && weight <= 0 {
        throw yaml.failure(
          weightNode, "\(armPlace): weight \(Self.format(weight)) must be above 0; remove the arm to stop serving it")
      }
    } else if mode == .fixed {
      throw yaml.failure(node, "\(armPlace): \"weight\" is required in fixed mode (percent of non-holdout traffic)")
    }
    return Arm(name: name, model: model, weightPercent: weight)
  }

  private func checkWeights(_ arms: [(arm: Arm, node: Node)], place: String, node: Node) throws {
    let total = arms.reduce(0) { $0 + $1.arm.weightPercent }
    guard abs(total - 100) <= Self.weightTolerance else {
      let terms = arms.map { "\($0.arm.name) \(Self.format($0.arm.weightPercent))" }.joined(separator: " + ")
      throw yaml.failure(
        node, "\(place): arm weights sum to \(Self.format(total)), not 100 (\(terms)); "
          + "they split all non-holdout traffic, so make them add up to 100")
    }
    let experiment = Experiment(key: "", salt: "", arms: arms.map(\.arm))
    for (range, arm) in zip(experiment.armBucketRanges, arms) where range.isEmpty {
      throw yaml.failure(
        arm.node, "\(place), arm \"\(arm.arm.name)\": weight \(Self.format(arm.arm.weightPercent)) "
          + "rounds to no bucket; the smallest share is 0.01")
    }
  }

  /// How to name a mapping in messages before its fields are checked: by its key or name when
  /// that is a valid one (`experiment "home-ranker"`), else by position (`experiments[2]`).
  static func place(of node: Node, naming field: String, prefix: String, fallback: String) -> String {
    guard let name = node.mapping?[field]?.scalar?.string, isName(name) else { return fallback }
    return "\(prefix) \"\(name)\""
  }

  /// Keys and arm names follow the model-name rule: they appear in `forced_arm` ("key/arm"),
  /// metrics labels and logs.
  static func isName(_ text: String) -> Bool { ModelSelector.isName(text) }

  /// 90 rather than 90.0; 33.3 rather than 33.300000000000004.
  static func format(_ value: Double) -> String {
    if value == value.rounded() && abs(value) < 1e15 { return String(Int(value)) }
    let rounded = (value * 1e6).rounded() / 1e6
    return "\(rounded)"
  }
}

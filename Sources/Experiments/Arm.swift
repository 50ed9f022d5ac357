import ModelStore

/// One variant of an experiment: the model it serves and, in fixed mode, its share of traffic.
public struct Arm: Sendable, Equatable {
  public var name: String
  public var model: ModelSelector
  /// Percent of the experiment's non-holdout traffic (fixed mode); given or 0 in thompson mode,
  /// where it is ignored.
  public var weightPercent: Double

  public init(name: String, model: ModelSelector, weightPercent: Double) {
    self.name = name
    self.model = model
    self.weightPercent = weightPercent
  }

  /// The name the report and `forced_arm` use for an experiment's held-out users; no arm may take it.
  public static let holdoutName = "holdout"
}

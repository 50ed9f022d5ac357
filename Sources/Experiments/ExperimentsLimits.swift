/// How much an experiments file may hold. Far above any real set-up (a handful of experiments
/// of a few arms), and low enough that a reload stays in milliseconds and the refusal, the
/// report and `recsysctl experiments show` stay small: 10 000 experiments once took 6 s and
/// 134 MiB to load, and an 8 MB salt made every report exceed gRPC's message size.
public enum ExperimentsLimits {
  /// The file as YAML: size, nesting, anchors, scalars, nodes (see `YAMLGuard`).
  public static let yaml = YAMLLimits.standard
  public static let maxExperiments = 256
  public static let maxArms = 32
  /// Surfaces one `match` names.
  public static let maxSurfaces = 64
  /// A salt's UTF-8 bytes (it is hashed with every request's user id).
  public static let maxSaltBytes = 256
  /// A surface's UTF-8 bytes. Keys and arm names follow the name rule (at most 128).
  public static let maxSurfaceBytes = 128
  /// A model selector's text: a name and a label of at most 128 bytes each, and '@'.
  public static let maxSelectorBytes = 257
}

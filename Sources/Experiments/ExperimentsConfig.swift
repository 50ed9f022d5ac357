import ModelStore

/// The experiments file (experiments.yaml):
///
/// ```yaml
/// default_model: mlp            # optional: model for traffic no experiment takes, and for holdout users
/// experiments:                  # evaluated in order; the first whose match accepts the request takes it
///   - key: home-ranker          # unique; letters, digits, '-', '_', '.'
///     salt: "2026-11"           # string; change it to re-randomise users (results restart)
///     match:                    # optional; all given conditions must hold
///       surface: [home, pdp]    # a string or a list; request.surface must be one of them
///       min_history: 1          # history length bounds (inclusive)
///       max_history: 50
///       whole_catalog: false    # true: only requests without candidates; false: only with
///     holdout: 5                # percent of matched users served the default model (0 <= h < 100)
///     mode: fixed               # fixed (default) | thompson
///     min_share: 10             # thompson only: percent each arm keeps (arms x min_share <= 100)
///     feedback_ttl: 3600        # seconds its responses take feedback on any replica (default: the sidecar's)
///     arms:                     # first arm = control
///       - {name: control, model: mlp, weight: 50}      # weight: percent of non-holdout traffic
///       - {name: treatment, model: lstm@stable, weight: 50}
///     shadow: sasrec            # optional model selector scored off the request path
///     ope_sample_percent: 10    # optional, needs shadow: percent of shadowed requests logged for off-policy evaluation
/// ```
///
/// Required: `experiments` (may be `[]`), and per experiment `key`, `salt` (may be `""`) and
/// `arms`. Arm names follow the key's alphabet; "holdout" is reserved for the held-out users.
/// `model`, `shadow` and `default_model` are selectors: `name`, `name@7` or `name@label`.
///
/// Assignment (published, see `Bucketing` and tools/experiment_assignment.py): a user whose
/// holdout bucket is below round(100 x holdout) is held out; otherwise, in fixed mode, their
/// bucket picks the arm from cumulative ranges of the weights in arm order; in thompson mode each
/// request samples the arms (see `ThompsonPolicy`). Users with an empty id are never enrolled.
///
/// Refused, with a message naming the experiment, arm and field: YAML syntax errors, a key
/// repeated in any mapping (Yams 5 keeps the last silently, so the file is checked node by node),
/// unknown fields (a typo must not be ignored), missing or malformed keys and salts (a salt or
/// key YAML reads as a number must be quoted, so every YAML reader hashes the same text),
/// repeated experiment keys or arm names, bad selectors, fixed-mode weights that are not all > 0
/// or do not sum to 100 (within 1e-6) or give an arm less than one bucket, `min_share` outside
/// thompson mode or above 100 / arms, holdout outside [0, 100), inverted history bounds.
/// Before Yams reads anything, `YAMLGuard` refuses a file over `ExperimentsLimits.yaml` (1 MiB,
/// nesting deeper than 64, anchors and aliases, values over 4 KiB, over 200 000 nodes); then
/// the content limits of `ExperimentsLimits` apply (256 experiments, 32 arms, 64 surfaces, salts
/// of 256 bytes). Refusals quote at most 64 bytes of a value (`Excerpt`).
/// Whether the named models exist is the caller's check: see `validateModels`.
public struct ExperimentsConfig: Sendable, Equatable {
  /// The name the file was loaded under; error messages start with it.
  public var source: String
  public var defaultModel: ModelSelector?
  public var experiments: [Experiment]

  /// Parses and checks a file; throws `ExperimentsConfigError`.
  public init(yaml: String, source: String) throws {
    self = try ConfigReader(source: source).read(yaml)
  }

  /// Builds a config without any checks (tests, programmatic set-ups). `ExperimentSet` copes with
  /// anything: arm ranges are clamped and experiments without arms never match.
  public init(defaultModel: ModelSelector? = nil, experiments: [Experiment], source: String = "") {
    self.source = source
    self.defaultModel = defaultModel
    self.experiments = experiments
  }

  /// Every model the file names (default, arms, shadows), first mention first, each once.
  public var selectors: [ModelSelector] {
    var seen = Set<ModelSelector>()
    var result: [ModelSelector] = []
    for selector in namedSelectors.map(\.selector) where seen.insert(selector).inserted {
      result.append(selector)
    }
    return result
  }

  /// Throws naming the first place whose selector `problem` objects to (it returns why, e.g.
  /// "no such model in the store", or nil when the selector is fine).
  public func validateModels(_ problem: (ModelSelector) -> String?) throws {
    for (place, selector) in namedSelectors {
      if let reason = problem(selector) {
        throw ExperimentsConfigError(
          source: source, line: nil, message: "\(place): model \"\(selector)\": \(reason)")
      }
    }
  }

  private var namedSelectors: [(place: String, selector: ModelSelector)] {
    var result: [(String, ModelSelector)] = []
    if let defaultModel { result.append(("default_model", defaultModel)) }
    for experiment in experiments {
      for arm in experiment.arms {
        result.append(("experiment \"\(experiment.key)\", arm \"\(arm.name)\"", arm.model))
      }
      if let shadow = experiment.shadow {
        result.append(("experiment \"\(experiment.key)\", shadow", shadow))
      }
    }
    return result
  }
}

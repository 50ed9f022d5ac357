import Experiments
import Foundation
import ModelStore

/// Decides which model serves a request. Precedence, first that applies:
/// 1. an explicit `model` selector in the request (bypasses experiments);
/// 2. a forced arm (`forced_arm: "experiment/arm"`, for QA);
/// 3. the first experiment whose match takes the request (holdout users get the default);
/// 4. the default model.
///
/// The experiments are an immutable `ExperimentSet` swapped whole on reload, so a request sees
/// one config from start to end; the lock guards only the reference.
public final class Router: @unchecked Sendable {
  private let sidecarDefault: ModelSelector
  private let lock = NSLock()
  private var experiments: ExperimentSet?  // under `lock`

  /// `defaultModel`: the sidecar's default; an experiments file's `default_model` overrides it
  /// while that file serves.
  public init(defaultModel: ModelSelector, experiments: ExperimentSet? = nil) {
    sidecarDefault = defaultModel
    self.experiments = experiments
  }

  /// The experiments that route now (nil: none).
  public var currentExperiments: ExperimentSet? { lock.withLock { experiments } }

  /// Takes effect for the next request; requests already routed keep their decision.
  public func replaceExperiments(_ set: ExperimentSet?) { lock.withLock { experiments = set } }

  /// The model for traffic no experiment routes, and for holdout users.
  public var defaultModel: ModelSelector { currentExperiments?.config.defaultModel ?? sidecarDefault }

  public struct Route: Sendable {
    public var selector: ModelSelector
    /// The experiment decision that chose `selector`; nil for explicit and default routes.
    public var assignment: Assignment?
    /// The experiments the decision came from (for recording the exposure against the same config).
    public var experiments: ExperimentSet?
  }

  /// What the router reads of a request.
  public struct Request {
    /// The request's `model` field ("" when absent).
    public var explicitModel: String
    /// The request's `forced_arm` field ("" when absent).
    public var forcedArm: String
    public var traits: RequestTraits
    /// The request's random seed (Thompson arms draw from it, so a request id replays).
    public var seed: UInt64

    public init(explicitModel: String = "", forcedArm: String = "", traits: RequestTraits, seed: UInt64 = 0) {
      self.explicitModel = explicitModel
      self.forcedArm = forcedArm
      self.traits = traits
      self.seed = seed
    }
  }

  public func route(_ request: Request) throws -> Route {
    if !request.explicitModel.isEmpty {
      return Route(selector: try ModelSelector(parsing: request.explicitModel))
    }
    let experiments = currentExperiments
    let fallback = experiments?.config.defaultModel ?? sidecarDefault
    guard let experiments else {
      if !request.forcedArm.isEmpty {
        throw RoutingError.invalidForcedArm(
          "forced_arm \"\(request.forcedArm)\" names an experiment arm, but this sidecar runs no experiments")
      }
      return Route(selector: fallback)
    }
    let assignment: Assignment?
    if request.forcedArm.isEmpty {
      assignment = experiments.assign(request.traits, seed: request.seed)
    } else {
      do {
        assignment = try experiments.forced(request.forcedArm, traits: request.traits)
      } catch {
        throw RoutingError.invalidForcedArm("\(error)")
      }
    }
    return Route(selector: assignment?.model ?? fallback, assignment: assignment, experiments: experiments)
  }
}

public enum RoutingError: Error, CustomStringConvertible {
  case invalidForcedArm(String)

  public var description: String {
    switch self {
    case .invalidForcedArm(let message): return message
    }
  }
}

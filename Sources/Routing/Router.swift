import ModelStore

/// Decides which model serves a request. Precedence: an explicit selector in the
/// request, then the default model. (Experiments slot in between in a later version.)
public struct Router: Sendable {
  public let defaultModel: ModelSelector

  public init(defaultModel: ModelSelector) {
    self.defaultModel = defaultModel
  }

  public struct Route: Equatable, Sendable {
    public var selector: ModelSelector
    public var experiment: String = ""
    public var arm: String = ""
  }

  /// `explicitModel` is the request's `model` field ("" when absent).
  public func route(explicitModel: String) throws -> Route {
    if explicitModel.isEmpty { return Route(selector: defaultModel) }
    return Route(selector: try ModelSelector(parsing: explicitModel))
  }
}

/// Every fuzz target of the project. Add a target here and a seed folder
/// `Tests/Fuzz/corpus/<name>/` with at least one valid input.
public enum FuzzTargets {
  public static let all: [FuzzTarget] = [
    SafeTensorsTarget.target,
    ModelJSONTarget.target,
    RecommendRequestTarget.target,
    PluginDirectoryTarget.target,
    ExperimentsYAMLTarget.target,
    SidecarConfigYAMLTarget.target,
    OffPolicyLogsTarget.target,
  ]

  public static func named(_ name: String) -> FuzzTarget? {
    all.first { $0.name == name }
  }
}

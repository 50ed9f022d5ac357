/// What the admin API reports of a model and its versions (admin.proto's ModelStatus).
public struct ModelStatus: Sendable, Equatable {
  public enum State: String, Sendable {
    case loading = "LOADING"
    case available = "AVAILABLE"
    case failed = "FAILED"
    case unloaded = "UNLOADED"
  }

  public struct Version: Sendable, Equatable {
    public var version: Int
    public var state: State
    public var error: String = ""
    public var labels: [String] = []
    public var kind: String = ""
    public var sha256: String = ""
    public var description: String = ""
  }

  public var name: String
  public var servingVersion: Int?
  public var policy: VersionPolicy
  public var versions: [Version]
  public var error: String = ""
}

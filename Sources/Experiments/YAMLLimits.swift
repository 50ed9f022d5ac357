/// How much YAML the sidecar agrees to read from one file. Checked by `YAMLGuard` on libyaml's
/// event stream before Yams composes a single node: Yams' composer recurses once per nesting
/// level (a few thousand levels overflow the stack) and copies an alias's whole subtree at each
/// use (a "billion laughs" file of a few hundred bytes expands past memory), so both must be
/// refused before it runs. Neither file the sidecar reads comes near these limits.
public struct YAMLLimits: Sendable, Equatable {
  /// The file's size. ExperimentsFile reads at most one byte more than this.
  public var maxBytes: Int
  /// Mappings and sequences inside one another. The experiments file needs 5 levels.
  public var maxDepth: Int
  /// One scalar's bytes (a key, a path, a salt before the reader's own, tighter, checks).
  public var maxScalarBytes: Int
  /// Scalars, sequences and mappings in the whole document: bounds what Yams allocates.
  public var maxNodes: Int

  public init(maxBytes: Int = 1 << 20, maxDepth: Int = 64, maxScalarBytes: Int = 4_096, maxNodes: Int = 200_000) {
    self.maxBytes = maxBytes
    self.maxDepth = maxDepth
    self.maxScalarBytes = maxScalarBytes
    self.maxNodes = maxNodes
  }

  /// The limits both the experiments file and the sidecar's config file are read with.
  public static let standard = YAMLLimits()
}

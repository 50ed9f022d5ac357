/// A model kind written in Swift. Conform a type, then export it with one line:
///
///     @_cdecl("recsys_plugin_entry")
///     public func recsysPluginEntry() -> UnsafeRawPointer { PluginExport.register(MyModel.self) }
///
/// The sidecar creates one instance per loaded model version and calls `recommend`
/// from several threads at once, so an instance must not change after `init`.
public protocol RecommenderModel: AnyObject {
  /// The `kind` in model.json this type serves, e.g. "mlp".
  static var kind: String { get }
  /// The plugin's own version, reported by the sidecar's admin API and logs.
  static var version: String { get }
  /// Every tensor a version of this kind holds; the sidecar refuses a version whose
  /// tensors do not match before calling `init`.
  static var tensorSpecs: [TensorSpec] { get }
  /// True when the kind can only score given candidates (no whole-catalog ranking).
  static var needsCandidates: Bool { get }

  /// Builds an instance. May keep pointers into `tensors`: the memory stays valid
  /// for the instance's lifetime.
  init(manifest: Manifest, tensors: Tensors) throws

  /// Ranks for one request, writing at most `result.capacity` items, best first.
  func recommend(_ request: Request, into result: inout Recommendations) throws

  /// True when `explain` says something; false (the default) exports no explain() at all.
  static var explains: Bool { get }

  /// Explains the items `recommend` returned for `request` (`explanation.itemIDs`): each history
  /// event's occlusion contribution to each item's score, and attention weights where the kind
  /// has them. Called only on request, never on the plain recommend path.
  func explain(_ request: Request, into explanation: inout Explanation) throws
}

extension RecommenderModel {
  public static var needsCandidates: Bool { true }
  public static var explains: Bool { false }
  /// No explanations.
  public func explain(_ request: Request, into explanation: inout Explanation) throws {}
}

import CRecSysPlugin

/// A tensor a kind needs, in the notation of recsys_plugin.h: `name` is exact or holds
/// one "{n}" index placeholder; `shape` lists dims as numbers, shared symbols ("N"),
/// multiples ("4*H") or "*".
public struct TensorSpec: Sendable {
  public enum DType: Sendable {
    case float32, int64

    var raw: recsys_dtype { self == .float32 ? RECSYS_DTYPE_F32 : RECSYS_DTYPE_I64 }
  }

  public var name: String
  public var dtype: DType
  public var shape: String
  public var required: Bool

  public init(_ name: String, _ dtype: DType = .float32, shape: String, required: Bool = true) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.required = required
  }
}

extension TensorSpec {
  /// `item_ids` int64 [N]: every kind's catalog (models.md).
  public static let itemIDs = TensorSpec("item_ids", .int64, shape: "N")

  /// The Linear layers of an `nn.Sequential` saved under `prefix` (`<prefix>.{n}.weight/bias`; the
  /// shapes are checked by `LinearLayer.sequence`).
  public static func linearStack(_ prefix: String) -> [TensorSpec] {
    [TensorSpec("\(prefix).{n}.weight", shape: "*,*"), TensorSpec("\(prefix).{n}.bias", shape: "*")]
  }
}

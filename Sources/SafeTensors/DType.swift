/// Element types a safetensors header may name, spelled exactly as the format writes them.
///
/// Sub-byte types (`F4`, `F6_E2M3`, `F6_E3M2`) are deliberately absent: their tensors do not start
/// on byte boundaries, so they cannot be handed out as plain typed buffers. The header parser
/// recognises their names to give a precise "unsupported" error instead of "unknown".
public enum DType: String, CaseIterable, Sendable {
  case bool = "BOOL"
  case uint8 = "U8"
  case int8 = "I8"
  case float8E5M2 = "F8_E5M2"
  case float8E4M3 = "F8_E4M3"
  case float8E8M0 = "F8_E8M0"
  case float8E4M3FNUZ = "F8_E4M3FNUZ"
  case float8E5M2FNUZ = "F8_E5M2FNUZ"
  case int16 = "I16"
  case uint16 = "U16"
  case float16 = "F16"
  case bfloat16 = "BF16"
  case int32 = "I32"
  case uint32 = "U32"
  case float32 = "F32"
  case complex64 = "C64"
  case float64 = "F64"
  case int64 = "I64"
  case uint64 = "U64"

  /// Bytes per element. Also the alignment the reader requires for the tensor's data, so that
  /// typed buffers can be read without unaligned loads. The format's own writer pads the header
  /// to 8 bytes and places larger types first, so every file it writes satisfies this.
  public var byteSize: Int {
    switch self {
    case .bool, .uint8, .int8, .float8E5M2, .float8E4M3, .float8E8M0, .float8E4M3FNUZ,
      .float8E5M2FNUZ:
      return 1
    case .int16, .uint16, .float16, .bfloat16:
      return 2
    case .int32, .uint32, .float32:
      return 4
    case .float64, .int64, .uint64, .complex64:
      return 8
    }
  }

  /// Names the format defines for element types smaller than a byte.
  static let subByteNames: Set<String> = ["F4", "F6_E2M3", "F6_E3M2"]
}

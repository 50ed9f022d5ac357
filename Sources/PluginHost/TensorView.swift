/// A tensor of a store version as the host hands it to a plugin; the memory
/// belongs to whoever the instance keeps alive (the weights read into private memory).
public struct TensorView {
  public var name: String
  /// The safetensors dtype name: "F32", "I64", ...
  public var dtype: String
  public var shape: [Int]
  public var data: UnsafeRawPointer?
  public var byteCount: Int

  public init(name: String, dtype: String, shape: [Int], data: UnsafeRawPointer?, byteCount: Int) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.data = data
    self.byteCount = byteCount
  }
}

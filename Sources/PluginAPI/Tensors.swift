import CRecSysPlugin

/// A version's tensors by name. Memory belongs to the host and outlives the instance.
public struct Tensors {
  public struct Tensor {
    public let name: String
    public let dtype: recsys_dtype
    public let shape: [Int]
    public let data: UnsafeRawPointer?
    public let byteCount: Int
  }

  public let byName: [String: Tensor]

  init(_ config: recsys_model_config) {
    var byName: [String: Tensor] = [:]
    for index in 0..<config.tensor_count {
      let raw = config.tensors[index]
      let name = String(cString: raw.name)
      let shape = (0..<Int(raw.rank)).map { Int(raw.shape[$0]) }
      byName[name] = Tensor(name: name, dtype: raw.dtype, shape: shape, data: raw.data, byteCount: Int(raw.byte_count))
    }
    self.byName = byName
  }

  /// The shape of `name`, or an error naming the missing tensor.
  public func shape(_ name: String) throws -> [Int] {
    guard let tensor = byName[name] else { throw ModelError.invalidArgument("tensor \"\(name)\" is missing") }
    return tensor.shape
  }

  public func contains(_ name: String) -> Bool { byName[name] != nil }

  /// A float32 tensor's elements, checked against `shape` (nil: any shape).
  public func floats(_ name: String, shape expected: [Int]? = nil) throws -> UnsafeBufferPointer<Float> {
    let tensor = try checked(name, RECSYS_DTYPE_F32, "F32", expected)
    return UnsafeBufferPointer(start: tensor.data?.assumingMemoryBound(to: Float.self), count: tensor.byteCount / 4)
  }

  /// An int64 tensor's elements, checked against `shape` (nil: any shape).
  public func int64s(_ name: String, shape expected: [Int]? = nil) throws -> UnsafeBufferPointer<Int64> {
    let tensor = try checked(name, RECSYS_DTYPE_I64, "I64", expected)
    return UnsafeBufferPointer(start: tensor.data?.assumingMemoryBound(to: Int64.self), count: tensor.byteCount / 8)
  }

  private func checked(_ name: String, _ dtype: recsys_dtype, _ dtypeName: String, _ expected: [Int]?) throws -> Tensor {
    guard let tensor = byName[name] else { throw ModelError.invalidArgument("tensor \"\(name)\" is missing") }
    guard tensor.dtype == dtype else { throw ModelError.invalidArgument("tensor \"\(name)\" must be \(dtypeName)") }
    if let expected, expected != tensor.shape {
      throw ModelError.invalidArgument("tensor \"\(name)\" has shape \(tensor.shape), expected \(expected)")
    }
    return tensor
  }
}

import CRecSysPlugin

/// A version's tensors by name. Memory belongs to the host and outlives the instance.
///
/// Records which tensors the model reads (`floats`, `int64s`): after `init`, `PluginExport`
/// refuses the version if the file holds a tensor the model never read. The host's spec check
/// cannot see that on its own: a pattern such as `mlp.{n}.bias` also matches a stray
/// `mlp.6.bias` behind layers mlp.0/2/4, which the model would silently ignore.
public struct Tensors {
  public struct Tensor {
    public let name: String
    public let dtype: recsys_dtype
    public let shape: [Int]
    public let data: UnsafeRawPointer?
    public let byteCount: Int
  }

  public let byName: [String: Tensor]

  /// Names read so far; a class so that copies of the struct share one record.
  private final class ReadLog { var names = Set<String>() }
  private let readLog = ReadLog()

  /// Tensors of the file the model never read, sorted.
  public var unread: [String] { byName.keys.filter { !readLog.names.contains($0) }.sorted() }

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
    readLog.names.insert(name)
    return tensor
  }
}

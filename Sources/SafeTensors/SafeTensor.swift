/// One tensor of a `SafeTensorsFile`: its description from the header and a view of its bytes.
///
/// `data` points into the file's private copy: it is valid only while the `SafeTensorsFile` that
/// produced it is alive. Copy the values out if they must outlive the file.
public struct SafeTensor: @unchecked Sendable {
  public let name: String
  public let dtype: DType
  /// Dimensions, outermost first; empty for a scalar.
  public let shape: [Int]
  /// Product of `shape` (1 for a scalar, 0 when any dimension is 0).
  public let elementCount: Int
  /// The tensor's bytes in the file's private copy, little-endian, row-major.
  public let data: UnsafeRawBufferPointer

  public init(name: String, dtype: DType, shape: [Int], elementCount: Int, data: UnsafeRawBufferPointer) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.elementCount = elementCount
    self.data = data
  }
}

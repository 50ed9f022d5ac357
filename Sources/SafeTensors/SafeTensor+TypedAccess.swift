// The format stores little-endian values; the typed views below reinterpret them in place.
#if _endian(big)
#error("SafeTensors reads little-endian tensor data in place and needs a little-endian host")
#endif

extension SafeTensor {
  /// The values of an `F32` tensor. Traps if the dtype is anything else: reading another type's
  /// bytes as floats is a programming error, so check `dtype` first where it may vary.
  public var floats: UnsafeBufferPointer<Float> { elements(as: Float.self, expecting: .float32) }

  /// The values of an `F64` tensor.
  public var doubles: UnsafeBufferPointer<Double> { elements(as: Double.self, expecting: .float64) }

  /// The values of an `I64` tensor (for example `item_ids`).
  public var int64s: UnsafeBufferPointer<Int64> { elements(as: Int64.self, expecting: .int64) }

  /// The values of an `I32` tensor.
  public var int32s: UnsafeBufferPointer<Int32> { elements(as: Int32.self, expecting: .int32) }

  /// The values of a `U8` tensor.
  public var uint8s: UnsafeBufferPointer<UInt8> { elements(as: UInt8.self, expecting: .uint8) }

  private func elements<Element>(as type: Element.Type, expecting expected: DType)
    -> UnsafeBufferPointer<Element>
  {
    precondition(
      dtype == expected,
      "tensor '\(name)' has dtype \(dtype.rawValue), not \(expected.rawValue)")
    // An empty tensor may sit at any offset; give it no pointer so no alignment is implied.
    guard elementCount > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
    // The reader checked size and alignment when it opened the file, and tensors never share
    // bytes, so binding each tensor's region to its own element type is sound.
    return data.bindMemory(to: Element.self)
  }
}

import SafeTensors

/// `safetensors`: the bytes are a weights file. The whole reader runs on them (length field,
/// header JSON, layout checks), then every tensor it hands out is read element by element in
/// its dtype, so a tensor that passed validation but points outside the bytes or is misaligned
/// faults here (the reader promises that never happens).
enum SafeTensorsTarget {
  static let target = FuzzTarget(
    name: "safetensors",
    summary: "SafeTensorsFile(bytes:): header parse, layout validation, typed access of every tensor",
    run: { bytes in
      guard let file = try? SafeTensorsFile(bytes: bytes, name: "fuzz.safetensors") else { return }
      var checksum: UInt64 = 0
      for tensor in file.tensors {
        precondition(tensor.data.count == tensor.elementCount * tensor.dtype.byteSize,
                     "tensor \(tensor.name): \(tensor.data.count) bytes for \(tensor.elementCount) elements")
        checksum &+= touch(tensor)
        precondition(file.tensor(named: tensor.name)?.name == tensor.name, "tensor \(tensor.name) is not found by name")
      }
      file.withUnsafeBytes { all in for byte in all { checksum &+= UInt64(byte) } }
      blackHole(checksum)
    })

  /// Reads every element through the typed accessor for its dtype (raw bytes for the others).
  private static func touch(_ tensor: SafeTensor) -> UInt64 {
    var sum: UInt64 = 0
    switch tensor.dtype {
    case .float32: for value in tensor.floats { sum &+= UInt64(value.bitPattern) }
    case .float64: for value in tensor.doubles { sum &+= value.bitPattern }
    case .int64: for value in tensor.int64s { sum &+= UInt64(bitPattern: value) }
    case .int32: for value in tensor.int32s { sum &+= UInt64(UInt32(bitPattern: value)) }
    case .uint8: for value in tensor.uint8s { sum &+= UInt64(value) }
    default: for byte in tensor.data { sum &+= UInt64(byte) }
    }
    return sum
  }
}

/// Keeps the optimiser from dropping reads whose result is otherwise unused.
@inline(never)
func blackHole<T>(_ value: T) {
  withExtendedLifetime(value) {}
}

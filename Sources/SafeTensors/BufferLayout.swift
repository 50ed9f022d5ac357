/// Checks that need all entries and the file size: every tensor lies inside the data buffer,
/// no two share bytes, and each starts aligned to its element size.
struct BufferLayout {
  let path: String
  /// File offset of the data buffer: 8 + header length.
  let dataOffset: Int
  /// Bytes from `dataOffset` to the end of the file.
  let bufferByteCount: Int

  /// Returns the entries in file order (by begin offset), having checked them.
  func validate(_ entries: [TensorEntry]) throws -> [TensorEntry] {
    for entry in entries where entry.end > bufferByteCount {
      throw SafeTensorsError(
        .dataOutOfBounds, path: path, tensorName: entry.name,
        message: "data_offsets [\(entry.begin), \(entry.end)] reach past the \(bufferByteCount) data bytes the file holds after its header; the file is truncated, copy or re-export it")
    }

    let ordered = entries.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
    // An empty tensor owns no bytes, so it cannot overlap anything; skipping it also lets the
    // writer put it at the same offset as its neighbour, as the Python package does.
    var previous: TensorEntry?
    for entry in ordered where entry.byteCount > 0 {
      if let previous, entry.begin < previous.end {
        throw SafeTensorsError(
          .overlappingTensors, path: path, tensorName: entry.name,
          message: "data_offsets [\(entry.begin), \(entry.end)] overlap those of tensor '\(previous.name)' [\(previous.begin), \(previous.end)]; each tensor needs its own bytes, re-export the file")
      }
      // Sorted by begin, so the furthest-reaching earlier tensor is the last non-empty one
      // unless one contains another, which the check above has already rejected.
      previous = entry
    }

    for entry in ordered where entry.byteCount > 0 {
      // The private copy starts on a page boundary, so alignment in the file is alignment in memory.
      let fileOffset = dataOffset + entry.begin
      guard fileOffset % entry.dtype.byteSize == 0 else {
        throw SafeTensorsError(
          .misalignedData, path: path, tensorName: entry.name,
          message: "its \(entry.dtype.rawValue) data starts at file offset \(fileOffset), not a multiple of \(entry.dtype.byteSize), so it cannot be read in place; re-export it with the safetensors package, which aligns every tensor")
      }
    }
    return ordered
  }
}

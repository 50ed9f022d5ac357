/// One tensor as the header describes it, before it is tied to the bytes.
struct TensorEntry {
  let name: String
  let dtype: DType
  let shape: [Int]
  let elementCount: Int
  /// Byte range relative to the start of the data buffer (just after the header).
  let begin: Int
  let end: Int

  var byteCount: Int { end - begin }
}

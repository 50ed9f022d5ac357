/// The depth check of kinds whose layer count model.json declares (lstm's `num_layers`, sasrec's
/// `num_blocks`): the file must hold exactly the tensors of layers 0..<count, no fewer (a missing
/// tensor is named) and no more (a layer beyond the count would be silently ignored).
public enum LayerCount {
  /// `key`: the model.json key ("num_layers"); `prefix`: what every layer tensor's name starts with
  /// ("lstm."); `layerNames(k)`: the tensor names layer k must have; `layers`: how the message
  /// writes the range, e.g. "l0 ..< l2"; `parts`: what each layer holds, e.g. "weight_ih, weight_hh".
  public static func requireExactly(
    _ count: Int, key: String, in tensors: Tensors, prefix: String, layerNames: (Int) -> [String],
    layers: String, parts: String
  ) throws {
    let expected = Set((0..<count).flatMap(layerNames))
    for name in expected.sorted() where !tensors.contains(name) {
      throw ModelError.invalidArgument(
        "tensor \"\(name)\" is missing: model.json's \(key) = \(count) needs \(layers), each with \(parts)")
    }
    if let extra = tensors.byName.keys.filter({ $0.hasPrefix(prefix) && !expected.contains($0) }).min() {
      throw ModelError.invalidArgument(
        "tensor \"\(extra)\" is not part of the \(count) layer(s) model.json's \(key) = \(count) declares "
          + "(\(layers)): set \(key) to the count the weights hold")
    }
  }
}

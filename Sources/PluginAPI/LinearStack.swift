/// One `torch.nn.Linear` read from a `state_dict`: y = W x + b, W row-major [outputs x inputs].
public struct LinearLayer {
  public let weight: UnsafeBufferPointer<Float>
  public let bias: UnsafeBufferPointer<Float>
  public let inputs: Int
  public let outputs: Int

  public init(weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>, inputs: Int, outputs: Int) {
    self.weight = weight
    self.bias = bias
    self.inputs = inputs
    self.outputs = outputs
  }

  /// The Linear layers of an `nn.Sequential` of Linear/ReLU pairs saved under `prefix`:
  /// `<prefix>.0`, `<prefix>.2`, `<prefix>.4`, ... Checks that none is missing, none has 0 outputs,
  /// and each takes what the one before gives (the first takes `inputs`, described to the user
  /// as `inputsMeaning`, e.g. "2d + C + F"). At least one layer.
  public static func sequence(_ tensors: Tensors, prefix: String, inputs firstInputs: Int,
                              inputsMeaning: String) throws -> [LinearLayer] {
    let count = tensors.byName.keys.filter { $0.hasPrefix("\(prefix).") && $0.hasSuffix(".weight") }.count
    var layers: [LinearLayer] = []
    var inputs = firstInputs
    for index in 0..<count {
      let name = "\(prefix).\(2 * index)"
      guard tensors.contains("\(name).weight") else {
        throw ModelError.invalidArgument(
          "tensor \"\(name).weight\" is missing: the layers are \(prefix).0, \(prefix).2, \(prefix).4, ... "
            + "(Linear/ReLU pairs)")
      }
      let shape = try tensors.shape("\(name).weight")
      guard shape[0] > 0 else {
        throw ModelError.invalidArgument("tensor \"\(name).weight\" has 0 outputs; a layer needs at least one")
      }
      guard shape[1] == inputs else {
        throw ModelError.invalidArgument(
          "tensor \"\(name).weight\" takes \(shape[1]) inputs, but "
            + "\(index == 0 ? inputsMeaning : "the previous layer gives") = \(inputs)")
      }
      let weight = try tensors.floats("\(name).weight")
      let bias = try tensors.floats("\(name).bias", shape: [shape[0]])
      layers.append(LinearLayer(weight: weight, bias: bias, inputs: inputs, outputs: shape[0]))
      inputs = shape[0]
    }
    guard !layers.isEmpty else {
      throw ModelError.invalidArgument("the network needs at least one layer (\(prefix).0.weight and \(prefix).0.bias)")
    }
    return layers
  }
}

import RecSysKernels

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

extension LinearLayer {
  /// The columns `from...` of the weight, addressed with the weight's own stride (`inputs`): a
  /// layer applied block by block over a concatenated input, `W[:, a..<b] x_block`.
  public func columns(from column: Int) -> UnsafeBufferPointer<Float> {
    UnsafeBufferPointer(rebasing: weight[min(column, weight.count)...])
  }

  /// `output [rows x outputs] = input [rows x inputs] · Wᵀ + b`, then ReLU when `relu`: one GEMM
  /// (bias and ReLU in one pass after it), or for a single row one GEMV on top of the bias (BLAS's
  /// GEMV path is the cheaper one there).
  public func forward(
    _ input: UnsafeBufferPointer<Float>, rows: Int, into output: UnsafeMutableBufferPointer<Float>, relu: Bool
  ) {
    if rows == 1 {
      _ = UnsafeMutableBufferPointer(rebasing: output[0..<outputs]).initialize(from: bias)
      Kernels.gemv(matrix: weight, vector: input, output: output, rows: outputs, columns: inputs, beta: 1)
      if relu { Kernels.relu(UnsafeMutableBufferPointer(rebasing: output[0..<outputs])) }
    } else {
      Kernels.linear(input: input, weight: weight, bias: bias, output: output, rows: rows, inFeatures: inputs,
                     outFeatures: outputs, relu: relu)
    }
  }

  /// Runs `layers` over `rows` rows held in `activations` (an `nn.Sequential` of Linear/ReLU pairs:
  /// ReLU after every layer but the last, and after the last too when `reluAfterLast`), using `next`
  /// as the other buffer; both hold `rows x` the widest layer. Returns the buffer that holds the
  /// output `[rows x layers.last.outputs]`. Checks `isCancelled` between layers.
  public static func forward(
    _ layers: ArraySlice<LinearLayer>, rows: Int,
    activations: UnsafeMutableBufferPointer<Float>, next: UnsafeMutableBufferPointer<Float>,
    reluAfterLast: Bool = false, isCancelled: () -> Bool = { false }
  ) throws -> UnsafeMutableBufferPointer<Float> {
    var input = activations
    var output = next
    for index in layers.indices {
      if isCancelled() { throw ModelError.cancelled }
      layers[index].forward(
        UnsafeBufferPointer(input), rows: rows, into: output, relu: reluAfterLast || index < layers.endIndex - 1)
      swap(&input, &output)
    }
    return input
  }
}

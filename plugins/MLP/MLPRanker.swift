import PluginAPI
import RecSysKernels

/// The `mlp` kind (models.md): score = mlp(concat(mean(history), item, context, features)).
///
/// Layer 1 is applied block by block: its item block is the same for every request, so
/// `item_emb · W1[:, d..<2d]ᵀ` is computed once per catalog item at load (`itemProjection`,
/// N x h1 floats, stated separately from the weights) and a request only adds the
/// user/context part (one GEMV) and the feature part (one GEMM) to gathered rows.
public final class MLPRanker: RecommenderModel {
  public static let kind = "mlp"
  public static let version = "1.0.0"
  public static let tensorSpecs = [
    TensorSpec("item_ids", .int64, shape: "N"),
    TensorSpec("item_emb.weight", shape: "N,d"),
    TensorSpec("mlp.{n}.weight", shape: "*,*"),
    TensorSpec("mlp.{n}.bias", shape: "*"),
  ]

  struct Layer {
    let weight: UnsafeBufferPointer<Float>  // [outputs x inputs]
    let bias: UnsafeBufferPointer<Float>  // [outputs]
    let inputs: Int
    let outputs: Int
  }

  let catalog: Catalog
  let itemEmbedding: UnsafeBufferPointer<Float>  // [N x d]
  let dimension: Int
  let contextDimension: Int
  let featureDimension: Int
  let maxHistory: Int
  let layers: [Layer]
  let itemProjection: UnsafeMutableBufferPointer<Float>  // [N x h1]

  public init(manifest: Manifest, tensors: Tensors) throws {
    contextDimension = try manifest.integer("context_dim")
    featureDimension = try manifest.integer("candidate_feature_dim")
    maxHistory = try manifest.integer("max_history")
    let ids = try tensors.int64s("item_ids")
    let embeddingShape = try tensors.shape("item_emb.weight")
    dimension = embeddingShape[1]
    itemEmbedding = try tensors.floats("item_emb.weight")
    catalog = try Catalog(itemIDs: ids)
    layers = try Self.layers(tensors, inputs: 2 * dimension + contextDimension + featureDimension)
    Kernels.useSingleThread()

    let hidden = layers[0].outputs
    itemProjection = .allocate(capacity: max(ids.count * hidden, 1))
    Kernels.linear(
      input: itemEmbedding, weight: Self.columns(layers[0].weight, from: dimension), bias: nil,
      output: itemProjection, rows: ids.count, inFeatures: dimension, outFeatures: hidden,
      weightStride: layers[0].inputs)
  }

  deinit { itemProjection.deallocate() }

  /// Reads `mlp.0`, `mlp.2`, ... and checks each layer feeds the next and the last has one output.
  private static func layers(_ tensors: Tensors, inputs firstInputs: Int) throws -> [Layer] {
    let count = tensors.byName.keys.filter { $0.hasPrefix("mlp.") && $0.hasSuffix(".weight") }.count
    var layers: [Layer] = []
    var inputs = firstInputs
    for index in 0..<count {
      let name = "mlp.\(2 * index)"
      guard tensors.contains("\(name).weight") else {
        throw ModelError.invalidArgument(
          "tensor \"\(name).weight\" is missing: an mlp's layers are mlp.0, mlp.2, mlp.4, ... (Linear/ReLU pairs)")
      }
      let shape = try tensors.shape("\(name).weight")
      guard shape[1] == inputs else {
        throw ModelError.invalidArgument(
          "tensor \"\(name).weight\" takes \(shape[1]) inputs, but \(index == 0 ? "2d + C + F" : "the previous layer gives") = \(inputs)")
      }
      let weight = try tensors.floats("\(name).weight")
      let bias = try tensors.floats("\(name).bias", shape: [shape[0]])
      layers.append(Layer(weight: weight, bias: bias, inputs: inputs, outputs: shape[0]))
      inputs = shape[0]
    }
    guard !layers.isEmpty, inputs == 1 else {
      throw ModelError.invalidArgument("an mlp must end in a Linear with 1 output; the last layer has \(inputs)")
    }
    return layers
  }

  /// The columns `from...` of a row-major weight, addressed with the weight's own stride.
  private static func columns(_ weight: UnsafeBufferPointer<Float>, from column: Int) -> UnsafeBufferPointer<Float> {
    UnsafeBufferPointer(rebasing: weight[min(column, weight.count)...])
  }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    try request.requireCandidates(kind: Self.kind)
    try request.requireContext(count: contextDimension)
    try request.requireCandidateFeatures(perCandidate: featureDimension)
    let (rows, positions) = catalog.candidates(request, reportingUnknownTo: &result)
    if rows.isEmpty { return }
    let history = catalog.historyRows(request, maxLength: maxHistory)
    let first = layers[0]
    let hidden = first.outputs
    let widest = layers.map(\.outputs).max()!
    let candidateCount = rows.count
    let allCandidates = request.candidateItemIDs.count

    // One allocation per request: user vector, shared row, feature part, two activation buffers.
    let scratchCount = dimension + hidden + allCandidates * hidden + 2 * candidateCount * widest
    let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: scratchCount)
    defer { scratch.deallocate() }
    var cursor = 0
    func take(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
      defer { cursor += count }
      return UnsafeMutableBufferPointer(rebasing: scratch[cursor..<cursor + count])
    }
    let user = take(dimension)
    let shared = take(hidden)
    let featurePart = take(allCandidates * hidden)
    var activations = take(candidateCount * widest)
    var next = take(candidateCount * widest)

    // shared = b1 + W1[:, 0..<d] · u + W1[:, 2d..<2d+C] · context
    history.withUnsafeBufferPointer { history in
      Kernels.meanOfRows(matrix: itemEmbedding, rowIndices: history, dim: dimension, output: user)
    }
    _ = shared.initialize(from: first.bias)
    Kernels.gemv(matrix: first.weight, vector: UnsafeBufferPointer(user), output: shared,
                 rows: hidden, columns: dimension, matrixStride: first.inputs, beta: 1)
    if contextDimension > 0 {
      Kernels.gemv(matrix: Self.columns(first.weight, from: 2 * dimension), vector: request.context, output: shared,
                   rows: hidden, columns: contextDimension, matrixStride: first.inputs, beta: 1)
    }
    if featureDimension > 0 {
      Kernels.linear(input: request.candidateFeatures, weight: Self.columns(first.weight, from: 2 * dimension + contextDimension),
                     bias: nil, output: featurePart, rows: allCandidates, inFeatures: featureDimension,
                     outFeatures: hidden, weightStride: first.inputs)
    }
    // Layer 1 per candidate: precomputed item part + shared part (+ feature part).
    for (slot, row) in rows.enumerated() {
      let out = activations.baseAddress! + slot * hidden
      let item = itemProjection.baseAddress! + Int(row) * hidden
      for unit in 0..<hidden { out[unit] = item[unit] + shared[unit] }
      if featureDimension > 0 {
        let features = featurePart.baseAddress! + Int(positions[slot]) * hidden
        for unit in 0..<hidden { out[unit] += features[unit] }
      }
    }
    if layers.count > 1 { Kernels.relu(UnsafeMutableBufferPointer(rebasing: activations[0..<candidateCount * hidden])) }

    for (index, layer) in layers.enumerated().dropFirst() {
      if request.isCancelled { throw ModelError.cancelled }
      Kernels.linear(input: UnsafeBufferPointer(activations), weight: layer.weight, bias: layer.bias, output: next,
                     rows: candidateCount, inFeatures: layer.inputs, outFeatures: layer.outputs)
      if index < layers.count - 1 {
        Kernels.relu(UnsafeMutableBufferPointer(rebasing: next[0..<candidateCount * layer.outputs]))
      }
      swap(&activations, &next)
    }
    let scores = UnsafeBufferPointer(rebasing: activations[0..<candidateCount])
    let excluded = request.excludeHistory ? catalog.allHistoryRows(request) : []
    Ranking.writeTopCandidates(scores: scores, rows: rows, catalog: catalog, excludedRows: excluded, into: &result)
  }
}

import PluginAPI
import RecSysKernels

/// The `lstm` kind (models.md): a GRU4Rec-style sequence model with an LSTM cell.
///
///     e_t   = item_emb[h_t] + event_emb[type_t]                 [n x d]
///     H     = lstm(e_1..e_n)                                     num_layers x nn.LSTM layer, zero state
///     z     = proj(H[last])    (empty history: proj(zeros))      [d]
///     score = item_emb[c] · z  (no candidates: the whole catalog)
///
/// The hidden size comes from the shapes, the layer count from model.json (create() checks they
/// agree with the file). Requests' context and candidate_features are not inputs of this kind: a
/// request that sends some is served as if it had not (they are ignored, not refused).
public final class LSTMSequenceModel: RecommenderModel {
  public static let kind = "lstm"
  public static let version = "1.0.0"
  public static let needsCandidates = false
  /// Event types 0 view, 1 click, 2 add-to-cart, 3 purchase: the rows of event_emb.weight.
  static let eventTypeCount = 4
  public static let tensorSpecs = EmbeddedCatalog.tensorSpecs + [
    TensorSpec("event_emb.weight", shape: "\(eventTypeCount),d"),
    TensorSpec("lstm.weight_ih_l0", shape: "4*H,d"),
    // Layers above the first read the layer below (H wide); the pattern takes the names the exact
    // spec above does not.
    TensorSpec("lstm.weight_ih_l{n}", shape: "4*H,H", required: false),
    TensorSpec("lstm.weight_hh_l{n}", shape: "4*H,H"),
    TensorSpec("lstm.bias_ih_l{n}", shape: "4*H"),
    TensorSpec("lstm.bias_hh_l{n}", shape: "4*H"),
    TensorSpec("proj.weight", shape: "d,H"),
    TensorSpec("proj.bias", shape: "d"),
  ]

  /// One nn.LSTM layer's parameters (`lstm.*_l{k}`), gate order i, f, g, o.
  struct Layer {
    let weightIH: UnsafeBufferPointer<Float>  // [4H x inputs]
    let weightHH: UnsafeBufferPointer<Float>  // [4H x H] (explanations' batched GEMM)
    let recurrent: Kernels.LSTMRecurrentWeights  // weightHH packed for lstmLayer's fused step
    let inputProjection: PreparedLinear  // weightIH and biasIH prepared for lstmLayer's input GEMM
    let biasIH: UnsafeBufferPointer<Float>  // [4H]
    let biasHH: UnsafeBufferPointer<Float>  // [4H]
    let inputs: Int  // d for layer 0, H above
  }

  let catalog: Catalog
  /// Whole-catalog search (model.json "retrieval": exact or quantized), built at load.
  let retrieval: CatalogRetrieval
  let itemEmbedding: UnsafeBufferPointer<Float>  // [N x d]
  let eventEmbedding: UnsafeBufferPointer<Float>  // [4 x d]
  let projectionWeight: UnsafeBufferPointer<Float>  // [d x H]
  let projectionBias: UnsafeBufferPointer<Float>  // [d]
  let layers: [Layer]
  let dimension: Int  // d
  let hidden: Int  // H
  let maxHistory: Int  // L

  public init(manifest: Manifest, tensors: Tensors) throws {
    let layerCount = try manifest.integer("num_layers", in: Manifest.Range.depth)
    maxHistory = try manifest.integer("max_history", in: Manifest.Range.maxHistory)
    guard layerCount >= 1 else { throw ModelError.invalidArgument("model.json: \"num_layers\" must be at least 1") }

    let items = try EmbeddedCatalog(tensors)
    (catalog, itemEmbedding, dimension) = (items.catalog, items.embedding, items.dimension)
    hidden = try tensors.shape("lstm.weight_hh_l0")[1]
    eventEmbedding = try tensors.floats("event_emb.weight", shape: [Self.eventTypeCount, dimension])
    projectionWeight = try tensors.floats("proj.weight", shape: [dimension, hidden])
    projectionBias = try tensors.floats("proj.bias", shape: [dimension])
    layers = try Self.layers(tensors, count: layerCount, dimension: dimension, hidden: hidden)
    retrieval = try CatalogRetrieval(manifest: manifest, catalog: catalog, itemEmbedding: itemEmbedding, dimension: dimension)
  }

  /// Reads `lstm.*_l0 ..< l{count}` and checks the file holds exactly those layers.
  private static func layers(_ tensors: Tensors, count: Int, dimension: Int, hidden: Int) throws -> [Layer] {
    try LayerCount.requireExactly(
      count, key: "num_layers", in: tensors, prefix: "lstm.",
      layerNames: { k in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"].map { "lstm.\($0)_l\(k)" } },
      layers: "layers l0 ..< l\(count)", parts: "weight_ih, weight_hh, bias_ih and bias_hh")
    return try (0..<count).map { k in
      let inputs = k == 0 ? dimension : hidden
      let weightHH = try tensors.floats("lstm.weight_hh_l\(k)", shape: [4 * hidden, hidden])
      let weightIH = try tensors.floats("lstm.weight_ih_l\(k)", shape: [4 * hidden, inputs])
      let biasIH = try tensors.floats("lstm.bias_ih_l\(k)", shape: [4 * hidden])
      return Layer(
        weightIH: weightIH,
        weightHH: weightHH, recurrent: Kernels.LSTMRecurrentWeights(weightHH: weightHH, hidden: hidden),
        inputProjection: PreparedLinear(weight: weightIH, bias: biasIH, inFeatures: inputs, outFeatures: 4 * hidden),
        biasIH: biasIH,
        biasHH: try tensors.floats("lstm.bias_hh_l\(k)", shape: [4 * hidden]),
        inputs: inputs)
    }
  }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    // request.context / request.candidateFeatures: not used by this kind (see the type's comment).
    for (index, type) in request.historyTypes.enumerated() where !(0..<Int32(Self.eventTypeCount)).contains(type) {
      throw ModelError.invalidArgument(
        "history[\(index)] has event type \(type); use 0 view, 1 click, 2 add-to-cart or 3 purchase")
    }
    let (rows, types) = catalog.historyEvents(request, maxLength: maxHistory)
    let steps = rows.count
    let width = max(dimension, hidden)

    // The sequence (e, then each layer's H in place), the LSTM kernel's scratch, a zero state for an
    // empty history, z, and the scores.
    let lstmScratchCount = Kernels.lstmScratchCount(steps: steps, hidden: hidden)
    let scoreCount = Ranking.dotProductScoreCount(request)
    try Arena.with(floats: steps * width + lstmScratchCount + hidden + dimension + scoreCount) { arena in
      let sequence = arena.floats(steps * width)  // [steps x d], then [steps x H]
      let lstmScratch = arena.floats(lstmScratchCount)
      let zeroState = arena.floats(hidden)
      let userVector = arena.floats(dimension)
      let scores = arena.floats(scoreCount)

      // e_t = item_emb[h_t] + event_emb[type_t]
      rows.withUnsafeBufferPointer { rows in
        Kernels.gatherRows(matrix: itemEmbedding, rowIndices: rows, dim: dimension, output: sequence)
      }
      for (step, type) in types.enumerated() {
        let event = Int(type) * dimension
        Kernels.add(
          UnsafeMutableBufferPointer(rebasing: sequence[step * dimension..<(step + 1) * dimension]),
          UnsafeBufferPointer(rebasing: eventEmbedding[event..<event + dimension]))
      }

      // Layer by layer, in place: the kernel consumes its whole input before writing its output
      // (and writes nothing for an empty history).
      for layer in layers {
        let finished = Kernels.lstmLayer(
          input: UnsafeBufferPointer(sequence), inputProjection: layer.inputProjection, recurrent: layer.recurrent,
          biasHH: layer.biasHH, steps: steps, hidden: hidden,
          output: sequence, scratch: lstmScratch, isCancelled: { request.isCancelled })
        if !finished || request.isCancelled { throw ModelError.cancelled }
      }

      // z = proj(H[last]), or proj(zeros) for an empty history.
      let last = SequenceState.last(of: sequence, steps: steps, width: hidden, orZeros: zeroState)
      Kernels.linear(
        input: last, weight: projectionWeight, bias: projectionBias, output: userVector,
        rows: 1, inFeatures: hidden, outFeatures: dimension)

      if request.isCancelled { throw ModelError.cancelled }
      try Ranking.writeTopDotProducts(
        userVector: UnsafeBufferPointer(userVector), retrieval: retrieval, request: request, scores: scores,
        into: &result)
    }
  }
}

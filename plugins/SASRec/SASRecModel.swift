import PluginAPI
import RecSysKernels

/// The `sasrec` kind (models.md): self-attention over the history with pre-LayerNorm blocks.
///
///     x_i   = item_emb[h_i] * sqrt(d) + pos_emb[i]     i = 0..n-1 over the kept history   [n x d]
///     per block:  x = x + attn(ln1(x))   (causal: i attends to 0...i)
///                 x = x + ffn(ln2(x))    (Linear(d, d_ff), exact GELU, Linear(d_ff, d))
///     z     = ln_f(x[last])   (empty history: ln_f(zeros))                                [d]
///     score = item_emb[c] · z (no candidates: the whole catalog)
///
/// Block count, head count and max_history come from model.json; d and each block's d_ff from the
/// shapes. Requests' context and candidate_features are not inputs of this kind: a request that sends
/// some is served as if it had not (they are ignored, not refused).
public final class SASRecModel: RecommenderModel {
  public static let kind = "sasrec"
  public static let version = "1.0.0"
  public static let needsCandidates = false
  /// The tensors of one block, after "blocks.{b}.", with their shapes.
  static let blockTensors = [
    ("ln1.weight", "d"), ("ln1.bias", "d"), ("attn.in_proj_weight", "3*d,d"), ("attn.in_proj_bias", "3*d"),
    ("attn.out_proj.weight", "d,d"), ("attn.out_proj.bias", "d"), ("ln2.weight", "d"), ("ln2.bias", "d"),
    ("ffn.0.weight", "*,d"), ("ffn.0.bias", "*"), ("ffn.2.weight", "d,*"), ("ffn.2.bias", "d"),
  ]
  public static let tensorSpecs = EmbeddedCatalog.tensorSpecs + [TensorSpec("pos_emb.weight", shape: "L,d")]
    // Blocks are optional to the shape check (num_blocks may be 0); create() checks their count.
    + blockTensors.map { name, shape in TensorSpec("blocks.{n}.\(name)", shape: shape, required: false) }
    + [TensorSpec("ln_f.weight", shape: "d"), TensorSpec("ln_f.bias", shape: "d")]

  /// One pre-LN transformer block (`blocks.{b}.*`).
  struct Block {
    let ln1Weight, ln1Bias: UnsafeBufferPointer<Float>  // [d]
    let inProjWeight: UnsafeBufferPointer<Float>  // [3d x d]
    let inProjBias: UnsafeBufferPointer<Float>  // [3d]
    let outProjWeight: UnsafeBufferPointer<Float>  // [d x d]
    let outProjBias: UnsafeBufferPointer<Float>  // [d]
    let ln2Weight, ln2Bias: UnsafeBufferPointer<Float>  // [d]
    let ffnInWeight: UnsafeBufferPointer<Float>  // [d_ff x d]   (ffn.0)
    let ffnInBias: UnsafeBufferPointer<Float>  // [d_ff]
    let ffnOutWeight: UnsafeBufferPointer<Float>  // [d x d_ff]   (ffn.2)
    let ffnOutBias: UnsafeBufferPointer<Float>  // [d]
    let ffnWidth: Int  // d_ff
    /// The four projections above, prepared once at load for the encoder's GEMMs (`PreparedLinear`).
    let inProjection, outProjection, ffnIn, ffnOut: PreparedLinear

    init(
      ln1Weight: UnsafeBufferPointer<Float>, ln1Bias: UnsafeBufferPointer<Float>,
      inProjWeight: UnsafeBufferPointer<Float>, inProjBias: UnsafeBufferPointer<Float>,
      outProjWeight: UnsafeBufferPointer<Float>, outProjBias: UnsafeBufferPointer<Float>,
      ln2Weight: UnsafeBufferPointer<Float>, ln2Bias: UnsafeBufferPointer<Float>,
      ffnInWeight: UnsafeBufferPointer<Float>, ffnInBias: UnsafeBufferPointer<Float>,
      ffnOutWeight: UnsafeBufferPointer<Float>, ffnOutBias: UnsafeBufferPointer<Float>, ffnWidth: Int, dimension d: Int
    ) {
      (self.ln1Weight, self.ln1Bias, self.ln2Weight, self.ln2Bias) = (ln1Weight, ln1Bias, ln2Weight, ln2Bias)
      (self.inProjWeight, self.inProjBias, self.outProjWeight, self.outProjBias) =
        (inProjWeight, inProjBias, outProjWeight, outProjBias)
      (self.ffnInWeight, self.ffnInBias, self.ffnOutWeight, self.ffnOutBias, self.ffnWidth) =
        (ffnInWeight, ffnInBias, ffnOutWeight, ffnOutBias, ffnWidth)
      inProjection = PreparedLinear(weight: inProjWeight, bias: inProjBias, inFeatures: d, outFeatures: 3 * d)
      outProjection = PreparedLinear(weight: outProjWeight, bias: outProjBias, inFeatures: d, outFeatures: d)
      ffnIn = PreparedLinear(weight: ffnInWeight, bias: ffnInBias, inFeatures: d, outFeatures: ffnWidth)
      ffnOut = PreparedLinear(weight: ffnOutWeight, bias: ffnOutBias, inFeatures: ffnWidth, outFeatures: d)
    }
  }

  let catalog: Catalog
  /// Whole-catalog search (model.json "retrieval": exact or quantized), built at load.
  let retrieval: CatalogRetrieval
  let itemEmbedding: UnsafeBufferPointer<Float>  // [N x d]
  let positionEmbedding: UnsafeBufferPointer<Float>  // [L x d]
  let finalNormWeight, finalNormBias: UnsafeBufferPointer<Float>  // [d]
  let blocks: [Block]
  let dimension: Int  // d
  let heads: Int
  let maxHistory: Int  // L
  let widestFFN: Int  // max d_ff over the blocks

  public init(manifest: Manifest, tensors: Tensors) throws {
    let blockCount = try manifest.integer("num_blocks", in: Manifest.Range.depth)
    heads = try manifest.integer("num_heads", in: Manifest.Range.heads)
    maxHistory = try manifest.integer("max_history", in: Manifest.Range.maxHistory)
    let items = try EmbeddedCatalog(tensors)
    (catalog, itemEmbedding, dimension) = (items.catalog, items.embedding, items.dimension)
    guard heads >= 1, dimension % heads == 0 else {
      throw ModelError.invalidArgument(
        "model.json: \"num_heads\" is \(heads); it must be at least 1 and divide the embedding size d = \(dimension)")
    }
    let positions = try tensors.shape("pos_emb.weight")[0]
    guard positions == maxHistory else {
      throw ModelError.invalidArgument(
        "tensor \"pos_emb.weight\" has \(positions) rows, but model.json's max_history is \(maxHistory); they must be equal")
    }
    positionEmbedding = try tensors.floats("pos_emb.weight", shape: [maxHistory, dimension])
    finalNormWeight = try tensors.floats("ln_f.weight", shape: [dimension])
    finalNormBias = try tensors.floats("ln_f.bias", shape: [dimension])
    blocks = try Self.blocks(tensors, count: blockCount, dimension: dimension)
    widestFFN = blocks.map(\.ffnWidth).max() ?? 0
    retrieval = try CatalogRetrieval(manifest: manifest, catalog: catalog, itemEmbedding: itemEmbedding, dimension: dimension)
  }

  /// Reads `blocks.0 ..< blocks.{count}` and checks the file holds exactly those blocks.
  private static func blocks(_ tensors: Tensors, count: Int, dimension d: Int) throws -> [Block] {
    let names = blockTensors.map(\.0)
    try LayerCount.requireExactly(
      count, key: "num_blocks", in: tensors, prefix: "blocks.", layerNames: { b in names.map { "blocks.\(b).\($0)" } },
      layers: "blocks.0 ..< blocks.\(count)", parts: names.joined(separator: ", "))
    return try (0..<count).map { b in
      let prefix = "blocks.\(b)."
      let width = try tensors.shape(prefix + "ffn.0.weight")[0]
      return Block(
        ln1Weight: try tensors.floats(prefix + "ln1.weight", shape: [d]),
        ln1Bias: try tensors.floats(prefix + "ln1.bias", shape: [d]),
        inProjWeight: try tensors.floats(prefix + "attn.in_proj_weight", shape: [3 * d, d]),
        inProjBias: try tensors.floats(prefix + "attn.in_proj_bias", shape: [3 * d]),
        outProjWeight: try tensors.floats(prefix + "attn.out_proj.weight", shape: [d, d]),
        outProjBias: try tensors.floats(prefix + "attn.out_proj.bias", shape: [d]),
        ln2Weight: try tensors.floats(prefix + "ln2.weight", shape: [d]),
        ln2Bias: try tensors.floats(prefix + "ln2.bias", shape: [d]),
        ffnInWeight: try tensors.floats(prefix + "ffn.0.weight", shape: [width, d]),
        ffnInBias: try tensors.floats(prefix + "ffn.0.bias", shape: [width]),
        ffnOutWeight: try tensors.floats(prefix + "ffn.2.weight", shape: [d, width]),
        ffnOutBias: try tensors.floats(prefix + "ffn.2.bias", shape: [d]),
        ffnWidth: width, dimension: d)
    }
  }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    // request.context / request.candidateFeatures: not used by this kind (see the type's comment).
    let rows = catalog.historyRows(request, maxLength: maxHistory)
    let steps = rows.count
    let d = dimension

    // The residual stream x, a normed/branch buffer, the FFN's hidden layer, the attention kernel's
    // scratch, z, and the scores.
    let attentionScratchCount = Kernels.causalSelfAttentionScratchCount(steps: steps, dim: d)
    let scoreCount = Ranking.dotProductScoreCount(request)
    try Arena.with(floats: 2 * steps * d + steps * widestFFN + attentionScratchCount + d + scoreCount) { arena in
      let x = arena.floats(steps * d)  // [steps x d], the residual stream
      let branch = arena.floats(steps * d)  // [steps x d], ln(x) and then what a sub-layer adds to x
      let ffnHidden = arena.floats(steps * widestFFN)  // [steps x d_ff]
      let attentionScratch = arena.floats(attentionScratchCount)
      let userVector = arena.floats(d)
      let scores = arena.floats(scoreCount)

      // x_i = item_emb[h_i] * sqrt(d) + pos_emb[i]
      rows.withUnsafeBufferPointer { rows in
        Kernels.gatherRows(matrix: itemEmbedding, rowIndices: rows, dim: d, output: x)
      }
      Kernels.scale(x, by: Float(Double(d).squareRoot()))
      Kernels.add(x, UnsafeBufferPointer(rebasing: positionEmbedding[0..<steps * d]))

      // The previous sub-layer's output not yet added to x (rows `first..<steps` of the stream): the
      // add is fused with the layer norm that reads x next (ln1 of the next block, or ln_f).
      var pendingFFN: UnsafeBufferPointer<Float>? = nil
      func normalize(
        _ rows: UnsafeMutableBufferPointer<Float>, count: Int, weight: UnsafeBufferPointer<Float>,
        bias: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
      ) {
        if let pending = pendingFFN {
          Kernels.addLayerNorm(
            residual: rows, adding: pending, rows: count, dim: d, weight: weight, bias: bias, output: output)
        } else {
          Kernels.layerNorm(input: UnsafeBufferPointer(rows), rows: count, dim: d, weight: weight, bias: bias, output: output)
        }
        pendingFFN = nil
      }

      // An empty history has no positions to run the blocks on (z is then ln_f(zeros), below).
      for (index, block) in blocks.enumerated() where steps > 0 {
        if request.isCancelled { throw ModelError.cancelled }
        // After the last block only x[last] reaches z, so there attention computes the last position
        // only (its keys and values still span the whole history) and the FFN runs on that row alone.
        let first = index == blocks.count - 1 ? steps - 1 : 0
        let count = steps - first
        let tail = UnsafeMutableBufferPointer(rebasing: x[first * d..<steps * d])

        // x = x + attn(ln1(x)); the kernel may write its output over its input. (Every block but the
        // last covers all rows, so the pending FFN output spans the whole x here.)
        normalize(x, count: steps, weight: block.ln1Weight, bias: block.ln1Bias, into: branch)
        Kernels.causalSelfAttention(
          input: UnsafeBufferPointer(branch), inProjection: block.inProjection, outProjection: block.outProjection,
          heads: heads, steps: steps, dim: d, output: UnsafeMutableBufferPointer(rebasing: branch[0..<count * d]),
          scratch: attentionScratch, firstQuery: first)

        // x = x + ffn(ln2(x)), row by row; the attention's output is added here, the FFN's by the next norm.
        let normed = UnsafeMutableBufferPointer(rebasing: branch[0..<count * d])
        let hiddenLayer = UnsafeMutableBufferPointer(rebasing: ffnHidden[0..<count * block.ffnWidth])
        Kernels.addLayerNorm(
          residual: tail, adding: UnsafeBufferPointer(normed), rows: count, dim: d, weight: block.ln2Weight,
          bias: block.ln2Bias, output: normed)
        block.ffnIn.apply(input: UnsafeBufferPointer(normed), rows: count, output: hiddenLayer)
        Kernels.gelu(hiddenLayer)
        block.ffnOut.apply(input: UnsafeBufferPointer(hiddenLayer), rows: count, output: normed)
        pendingFFN = UnsafeBufferPointer(normed)
      }

      // z = ln_f(x[last] + the last FFN output), or ln_f(zeros) for an empty history.
      if steps == 0 { userVector.update(repeating: 0) }
      let last = steps == 0 ? userVector : UnsafeMutableBufferPointer(rebasing: x[(steps - 1) * d..<steps * d])
      normalize(last, count: 1, weight: finalNormWeight, bias: finalNormBias, into: userVector)

      if request.isCancelled { throw ModelError.cancelled }
      try Ranking.writeTopDotProducts(
        userVector: UnsafeBufferPointer(userVector), retrieval: retrieval, request: request, scores: scores,
        into: &result)
    }
  }
}

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
  public static let tensorSpecs = [
    TensorSpec("item_ids", .int64, shape: "N"),
    TensorSpec("item_emb.weight", shape: "N,d"),
    TensorSpec("pos_emb.weight", shape: "L,d"),
    // Blocks are optional to the shape check (num_blocks may be 0); create() checks their count.
    TensorSpec("blocks.{n}.ln1.weight", shape: "d", required: false),
    TensorSpec("blocks.{n}.ln1.bias", shape: "d", required: false),
    TensorSpec("blocks.{n}.attn.in_proj_weight", shape: "3*d,d", required: false),
    TensorSpec("blocks.{n}.attn.in_proj_bias", shape: "3*d", required: false),
    TensorSpec("blocks.{n}.attn.out_proj.weight", shape: "d,d", required: false),
    TensorSpec("blocks.{n}.attn.out_proj.bias", shape: "d", required: false),
    TensorSpec("blocks.{n}.ln2.weight", shape: "d", required: false),
    TensorSpec("blocks.{n}.ln2.bias", shape: "d", required: false),
    TensorSpec("blocks.{n}.ffn.0.weight", shape: "*,d", required: false),
    TensorSpec("blocks.{n}.ffn.0.bias", shape: "*", required: false),
    TensorSpec("blocks.{n}.ffn.2.weight", shape: "d,*", required: false),
    TensorSpec("blocks.{n}.ffn.2.bias", shape: "d", required: false),
    TensorSpec("ln_f.weight", shape: "d"),
    TensorSpec("ln_f.bias", shape: "d"),
  ]
  /// The tensors of one block, after "blocks.{b}.".
  static let blockTensorNames = [
    "ln1.weight", "ln1.bias", "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
    "attn.out_proj.bias", "ln2.weight", "ln2.bias", "ffn.0.weight", "ffn.0.bias", "ffn.2.weight", "ffn.2.bias",
  ]

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
    dimension = try tensors.shape("item_emb.weight")[1]
    guard heads >= 1, dimension % heads == 0 else {
      throw ModelError.invalidArgument(
        "model.json: \"num_heads\" is \(heads); it must be at least 1 and divide the embedding size d = \(dimension)")
    }
    catalog = try Catalog(itemIDs: tensors.int64s("item_ids"))
    itemEmbedding = try tensors.floats("item_emb.weight")
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
    Kernels.useSingleThread()
  }

  /// Reads `blocks.0 ..< blocks.{count}` and checks the file holds exactly those blocks.
  private static func blocks(_ tensors: Tensors, count: Int, dimension d: Int) throws -> [Block] {
    let expected = Set((0..<count).flatMap { b in blockTensorNames.map { "blocks.\(b).\($0)" } })
    for name in expected.sorted() where !tensors.contains(name) {
      throw ModelError.invalidArgument(
        "tensor \"\(name)\" is missing: model.json's num_blocks = \(count) needs blocks.0 ..< blocks.\(count), "
          + "each with \(blockTensorNames.joined(separator: ", "))")
    }
    if let extra = tensors.byName.keys.filter({ $0.hasPrefix("blocks.") && !expected.contains($0) }).min() {
      throw ModelError.invalidArgument(
        "tensor \"\(extra)\" is not part of the \(count) block(s) model.json's num_blocks = \(count) declares "
          + "(blocks.0 ..< blocks.\(count)): set num_blocks to the block count the weights hold")
    }
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
        ffnWidth: width)
    }
  }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    // request.context / request.candidateFeatures: not used by this kind (see the type's comment).
    let rows = catalog.historyRows(request, maxLength: maxHistory)
    let steps = rows.count
    let d = dimension

    // One allocation per request: the residual stream x, a normed/branch buffer, the FFN's hidden
    // layer, the attention kernel's scratch, z, and the scores.
    let attentionScratchCount = Kernels.causalSelfAttentionScratchCount(steps: steps, dim: d)
    let scoreCount = Ranking.dotProductScoreCount(request)
    let scratch = UnsafeMutableBufferPointer<Float>.allocate(
      capacity: max(2 * steps * d + steps * widestFFN + attentionScratchCount + d + scoreCount, 1))
    defer { scratch.deallocate() }
    var cursor = 0
    func take(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
      defer { cursor += count }
      return UnsafeMutableBufferPointer(rebasing: scratch[cursor..<cursor + count])
    }
    let x = take(steps * d)  // [steps x d], the residual stream
    let branch = take(steps * d)  // [steps x d], ln(x) and then what a sub-layer adds to x
    let ffnHidden = take(steps * widestFFN)  // [steps x d_ff]
    let attentionScratch = take(attentionScratchCount)
    let userVector = take(d)
    let scores = take(scoreCount)

    // x_i = item_emb[h_i] * sqrt(d) + pos_emb[i]
    rows.withUnsafeBufferPointer { rows in
      Kernels.gatherRows(matrix: itemEmbedding, rowIndices: rows, dim: d, output: x)
    }
    Kernels.scale(x, by: Float(Double(d).squareRoot()))
    Kernels.add(x, UnsafeBufferPointer(rebasing: positionEmbedding[0..<steps * d]))

    // An empty history has no positions to run the blocks on (z is then ln_f(zeros), below).
    for (index, block) in blocks.enumerated() where steps > 0 {
      if request.isCancelled { throw ModelError.cancelled }
      // After the last block only x[last] reaches z, so there attention computes the last position
      // only (its keys and values still span the whole history) and the FFN runs on that row alone.
      let first = index == blocks.count - 1 ? steps - 1 : 0
      let count = steps - first
      let tail = UnsafeMutableBufferPointer(rebasing: x[first * d..<steps * d])

      // x = x + attn(ln1(x)); the kernel may write its output over its input.
      Kernels.layerNorm(
        input: UnsafeBufferPointer(x), rows: steps, dim: d, weight: block.ln1Weight, bias: block.ln1Bias, output: branch)
      Kernels.causalSelfAttention(
        input: UnsafeBufferPointer(branch), inProjWeight: block.inProjWeight, inProjBias: block.inProjBias,
        outProjWeight: block.outProjWeight, outProjBias: block.outProjBias,
        heads: heads, steps: steps, dim: d, output: UnsafeMutableBufferPointer(rebasing: branch[0..<count * d]),
        scratch: attentionScratch, firstQuery: first)
      Kernels.add(tail, UnsafeBufferPointer(rebasing: branch[0..<count * d]))

      // x = x + ffn(ln2(x)), row by row.
      let normed = UnsafeMutableBufferPointer(rebasing: branch[0..<count * d])
      let hiddenLayer = UnsafeMutableBufferPointer(rebasing: ffnHidden[0..<count * block.ffnWidth])
      Kernels.layerNorm(
        input: UnsafeBufferPointer(tail), rows: count, dim: d, weight: block.ln2Weight, bias: block.ln2Bias,
        output: normed)
      Kernels.linear(
        input: UnsafeBufferPointer(normed), weight: block.ffnInWeight, bias: block.ffnInBias, output: hiddenLayer,
        rows: count, inFeatures: d, outFeatures: block.ffnWidth)
      Kernels.gelu(hiddenLayer)
      Kernels.linear(
        input: UnsafeBufferPointer(hiddenLayer), weight: block.ffnOutWeight, bias: block.ffnOutBias, output: normed,
        rows: count, inFeatures: block.ffnWidth, outFeatures: d)
      Kernels.add(tail, UnsafeBufferPointer(normed))
    }

    // z = ln_f(x[last]), or ln_f(zeros) for an empty history.
    let last: UnsafeBufferPointer<Float>
    if steps > 0 {
      last = UnsafeBufferPointer(rebasing: x[(steps - 1) * d..<steps * d])
    } else {
      userVector.update(repeating: 0)
      last = UnsafeBufferPointer(userVector)
    }
    Kernels.layerNorm(input: last, rows: 1, dim: d, weight: finalNormWeight, bias: finalNormBias, output: userVector)

    if request.isCancelled { throw ModelError.cancelled }
    try Ranking.writeTopDotProducts(
      userVector: UnsafeBufferPointer(userVector), retrieval: retrieval, request: request, scores: scores,
      into: &result)
  }
}

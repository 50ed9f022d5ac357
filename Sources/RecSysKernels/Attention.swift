// Causal multi-head self-attention, as nn.MultiheadAttention(d, heads, batch_first=True) with
// query = key = value = input and a causal mask.

extension Kernels {
  /// Floats of scratch `causalSelfAttention` needs: the packed q|k|v projections (`steps x 3d`), one
  /// head's attention weights (`steps x steps`, reused per head) and the concatenated head outputs
  /// (`steps x d`): `4 * steps * dim + steps * steps`.
  public static func causalSelfAttentionScratchCount(steps: Int, dim: Int) -> Int {
    precondition(steps >= 0 && dim >= 0, "negative dimension")
    return 4 * steps * dim + steps * steps
  }

  /// `nn.MultiheadAttention(dim, heads, batch_first=True)(x, x, x, attn_mask=causal)` for one
  /// sequence, where `input` is `x` (in SASRec, already layer-normed):
  ///
  ///     q | k | v   = x · inProjWeight^T + inProjBias                 [steps x 3d], split by columns
  ///     per head h (columns h*hd ..< (h+1)*hd, hd = dim / heads):
  ///       P_h       = softmax_row(q_h · k_h^T / sqrt(hd)), row i over columns 0...i only
  ///       context_h = P_h · v_h
  ///     output      = context · outProjWeight^T + outProjBias          [steps x d]
  ///
  /// Position i attends to positions 0 through i (PyTorch's `attn_mask` with `-inf` above the
  /// diagonal). Dropout is not applied (eval mode). `heads` must divide `dim`. `output` may be the
  /// same memory as `input` (the input is consumed by the first projection). `steps == 0` writes
  /// nothing.
  ///
  /// With `firstQuery` > 0 only positions `firstQuery..<steps` are computed (keys and values still
  /// cover every position) and `output` holds those `steps - firstQuery` rows: a model whose result
  /// depends on the last position only (SASRec's last block) skips the other rows' scores, softmax
  /// and output projection.
  ///
  /// `lastQueryWeights`, when given (`[steps]`), receives the attention weights of the last
  /// position's query, averaged over the heads: what
  /// `nn.MultiheadAttention(need_weights=True, average_attn_weights=True)` returns in its last row.
  public static func causalSelfAttention(
    input: UnsafeBufferPointer<Float>,  // [steps x dim]
    inProjWeight: UnsafeBufferPointer<Float>,  // [3dim x dim]   (attn.in_proj_weight)
    inProjBias: UnsafeBufferPointer<Float>,  // [3dim]         (attn.in_proj_bias)
    outProjWeight: UnsafeBufferPointer<Float>,  // [dim x dim]    (attn.out_proj.weight)
    outProjBias: UnsafeBufferPointer<Float>,  // [dim]          (attn.out_proj.bias)
    heads: Int, steps: Int, dim: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [(steps - firstQuery) x dim]
    scratch: UnsafeMutableBufferPointer<Float>,  // [causalSelfAttentionScratchCount(steps:dim:)]
    firstQuery: Int = 0,
    lastQueryWeights: UnsafeMutableBufferPointer<Float>? = nil  // [steps]
  ) {
    // Not transposed: preparing per call would cost more than the faster kernel saves.
    causalSelfAttention(
      input: input,
      inProjection: PreparedLinear(
        weight: inProjWeight, bias: inProjBias, inFeatures: dim, outFeatures: 3 * dim, transposed: false),
      outProjection: PreparedLinear(
        weight: outProjWeight, bias: outProjBias, inFeatures: dim, outFeatures: dim, transposed: false),
      heads: heads, steps: steps, dim: dim, output: output, scratch: scratch, firstQuery: firstQuery,
      lastQueryWeights: lastQueryWeights)
  }

  /// `causalSelfAttention` with the projections prepared at load (`PreparedLinear` of
  /// `attn.in_proj_*`, `[3dim x dim]`, and `attn.out_proj.*`, `[dim x dim]`).
  public static func causalSelfAttention(
    input: UnsafeBufferPointer<Float>,  // [steps x dim]
    inProjection: PreparedLinear,  // dim -> 3dim
    outProjection: PreparedLinear,  // dim -> dim
    heads: Int, steps: Int, dim: Int,
    output: UnsafeMutableBufferPointer<Float>,  // [(steps - firstQuery) x dim]
    scratch: UnsafeMutableBufferPointer<Float>,  // [causalSelfAttentionScratchCount(steps:dim:)]
    firstQuery: Int = 0,
    lastQueryWeights: UnsafeMutableBufferPointer<Float>? = nil  // [steps]
  ) {
    precondition(heads > 0 && dim % heads == 0, "causalSelfAttention: heads must divide dim")
    precondition(firstQuery >= 0 && (firstQuery < steps || steps == 0), "causalSelfAttention: firstQuery out of range")
    precondition(
      inProjection.inFeatures == dim && inProjection.outFeatures == 3 * dim,
      "causalSelfAttention: in projection must map dim to 3 * dim")
    precondition(
      outProjection.inFeatures == dim && outProjection.outFeatures == dim,
      "causalSelfAttention: out projection must map dim to dim")
    let d3 = 3 * dim
    requireMatrix(
      input.count, rows: steps, cols: dim, stride: max(1, dim), "causalSelfAttention: input too small")
    let queries = steps - firstQuery
    requireMatrix(
      output.count, rows: queries, cols: dim, stride: max(1, dim), "causalSelfAttention: output too small")
    requireCount(
      scratch.count, atLeast: causalSelfAttentionScratchCount(steps: steps, dim: dim),
      "causalSelfAttention: scratch too small")
    if let lastQueryWeights {
      requireCount(lastQueryWeights.count, atLeast: steps, "causalSelfAttention: lastQueryWeights too small")
      lastQueryWeights.baseAddress!.update(repeating: 0, count: steps)
    }
    if steps == 0 || dim == 0 { return }

    let base = scratch.baseAddress!
    let qkv = UnsafeMutableBufferPointer(start: base, count: steps * d3)
    let weights = base + steps * d3  // [queries x steps], one head at a time
    let context = UnsafeMutableBufferPointer(start: weights + steps * steps, count: queries * dim)

    if firstQuery == 0 {
      inProjection.apply(input: input, rows: steps, output: qkv)
    } else {
      // Keys and values for every position, queries only for the rows asked for: SASRec's last
      // block asks for one row, so this skips a third of its input projection.
      inProjection.apply(
        input: input, rows: steps, output: UnsafeMutableBufferPointer(start: base + dim, count: steps * d3 - dim),
        columns: dim..<d3, outputStride: d3)
      inProjection.apply(
        input: UnsafeBufferPointer(rebasing: input[firstQuery * dim..<steps * dim]), rows: queries,
        output: UnsafeMutableBufferPointer(start: base + firstQuery * d3, count: queries * d3),
        columns: 0..<dim, outputStride: d3)
    }
    causalAttentionHeads(
      qkv: UnsafeBufferPointer(qkv), heads: heads, steps: steps, dim: dim, firstQuery: firstQuery,
      context: context, weightsScratch: UnsafeMutableBufferPointer(start: weights, count: steps * steps),
      lastQueryWeights: lastQueryWeights)

    outProjection.apply(input: UnsafeBufferPointer(context), rows: queries, output: output)
  }
}

extension Kernels {
  /// The middle of `causalSelfAttention` for one sequence whose projections are given: per head,
  /// `softmax_causal(q_h · k_hᵀ / sqrt(hd)) · v_h` for the queries `firstQuery..<steps`, written
  /// side by side into `context` (`[(steps - firstQuery) x dim]`, before the output projection).
  /// A caller can thus assemble `qkv` from rows it already has: a one-event-removed history shares
  /// its first positions (their keys and values) with the full history's run. `lastQueryWeights`
  /// (`[steps]`), when given, gets the last query's weights divided by `heads` *added*: zero it
  /// first to receive the head average.
  public static func causalAttentionHeads(
    qkv: UnsafeBufferPointer<Float>,  // [steps x 3dim]: q | k | v
    heads: Int, steps: Int, dim: Int, firstQuery: Int,
    context: UnsafeMutableBufferPointer<Float>,  // [(steps - firstQuery) x dim]
    weightsScratch: UnsafeMutableBufferPointer<Float>,  // [steps x steps]
    lastQueryWeights: UnsafeMutableBufferPointer<Float>? = nil  // [steps]
  ) {
    precondition(heads > 0 && dim % heads == 0, "causalAttentionHeads: heads must divide dim")
    precondition(firstQuery >= 0 && firstQuery < steps, "causalAttentionHeads: firstQuery out of range")
    let d3 = 3 * dim
    let queries = steps - firstQuery
    requireMatrix(qkv.count, rows: steps, cols: d3, stride: max(1, d3), "causalAttentionHeads: qkv too small")
    requireMatrix(context.count, rows: queries, cols: dim, stride: max(1, dim), "causalAttentionHeads: context too small")
    requireCount(weightsScratch.count, atLeast: queries * steps, "causalAttentionHeads: weightsScratch too small")
    if let lastQueryWeights {
      requireCount(lastQueryWeights.count, atLeast: steps, "causalAttentionHeads: lastQueryWeights too small")
    }
    if dim == 0 { return }
    let headDim = dim / heads
    let scaling = 1 / Float(headDim).squareRoot()
    let headShare = 1 / Float(heads)
    let weights = weightsScratch.baseAddress!
    let base = UnsafeMutablePointer(mutating: qkv.baseAddress!)
    let qkvEnd = base + qkv.count
    func block(_ start: UnsafeMutablePointer<Float>) -> UnsafeBufferPointer<Float> {
      UnsafeBufferPointer(start: start, count: qkvEnd - start)
    }
    for head in 0..<heads {
      let q = base + firstQuery * d3 + head * headDim  // query rows firstQuery..<steps
      let k = base + dim + head * headDim
      let v = k + dim
      // weights = scaling * q_h · k_h^T   [queries x steps]
      gemm(
        transposeA: false, transposeB: true, m: queries, n: steps, k: headDim, alpha: scaling,
        a: block(q), lda: d3, b: block(k), ldb: d3,
        c: UnsafeMutableBufferPointer(start: weights, count: queries * steps), ldc: steps)
      // Causal softmax: the row of position i over 0...i, zeros after.
      for r in 0..<queries {
        let i = firstQuery + r
        let row = weights + r * steps
        softmax(UnsafeMutableBufferPointer(start: row, count: i + 1))
        (row + i + 1).update(repeating: 0, count: steps - i - 1)
      }
      if let lastQueryWeights {
        let last = weights + (queries - 1) * steps
        for j in 0..<steps { lastQueryWeights[j] += last[j] * headShare }
      }
      // context[:, head block] = weights · v_h
      gemm(
        transposeA: false, transposeB: false, m: queries, n: headDim, k: steps,
        a: UnsafeBufferPointer(start: weights, count: queries * steps), lda: steps,
        b: block(v), ldb: d3,
        c: UnsafeMutableBufferPointer(
          start: context.baseAddress! + head * headDim, count: queries * dim - head * headDim),
        ldc: dim)
    }
  }
}

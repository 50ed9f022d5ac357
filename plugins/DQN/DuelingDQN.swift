import PluginAPI
import RecSysKernels

/// The `dqn` kind (models.md): a dueling Q-network that scores candidates for a state, served by an
/// epsilon-greedy slate policy that reports each item's propensity.
///
///     s   = concat(mean(item_emb[history]), item_emb[h_last], context)    [2d + C]
///     g   = state(s)                    Linear+ReLU pairs                  [hs]
///     V   = value(g)                                                       one number
///     A_c = adv.2(relu(adv.0(concat(g, item_emb[c]))))                     one number per candidate
///     Q_c = V + A_c - mean of A over the known candidates
///
/// adv.0 is applied block by block: its item block does not depend on the request, so
/// `item_emb · W0[:, hs..<hs+d]ᵀ` is computed once per catalog item at load (`itemAdvantage`,
/// N x h floats besides the weights); a request computes the state block `W0[:, 0..<hs] · g + b0`
/// once (one GEMV) and adds it to each candidate's precomputed row, then one GEMV gives every A.
public final class DuelingDQN: RecommenderModel {
  public static let kind = "dqn"
  public static let version = "1.0.0"
  public static let tensorSpecs = EmbeddedCatalog.tensorSpecs + TensorSpec.linearStack("state") + [
    TensorSpec("value.weight", shape: "1,*"),
    TensorSpec("value.bias", shape: "1"),
    TensorSpec("adv.0.weight", shape: "h,*"),
    TensorSpec("adv.0.bias", shape: "h"),
    TensorSpec("adv.2.weight", shape: "1,h"),
    TensorSpec("adv.2.bias", shape: "1"),
  ]

  let items: EmbeddedCatalog
  let contextDimension: Int
  let maxHistory: Int
  /// The probability that a slot explores (model.json "epsilon", default 0).
  let epsilon: Double
  let stateLayers: [LinearLayer]  // state.0, state.2, ...; ReLU after each
  let widestState: Int
  let valueWeight: UnsafeBufferPointer<Float>  // [hs]
  let valueBias: Float
  let advantageHidden: LinearLayer  // adv.0: [h x (hs + d)]
  let advantageWeight: UnsafeBufferPointer<Float>  // [h] (adv.2.weight)
  let advantageBias: Float
  let itemAdvantage: ItemTable  // [N x h]

  public init(manifest: Manifest, tensors: Tensors) throws {
    contextDimension = try manifest.integer("context_dim", in: Manifest.Range.featureCount)
    maxHistory = try manifest.integer("max_history", in: Manifest.Range.maxHistory)
    epsilon = try manifest.number("epsilon", default: 0, in: 0...1)
    items = try EmbeddedCatalog(tensors)
    let dimension = items.dimension
    let catalogSize = items.catalog.count
    stateLayers = try LinearLayer.sequence(
      tensors, prefix: "state", inputs: 2 * dimension + contextDimension,
      inputsMeaning: "the state concat(mean, last, context) has 2d + C")
    let stateWidth = stateLayers.last!.outputs
    widestState = stateLayers.map(\.outputs).max()!
    valueWeight = try tensors.floats("value.weight", shape: [1, stateWidth])
    valueBias = try tensors.floats("value.bias", shape: [1])[0]
    let hiddenShape = try tensors.shape("adv.0.weight")
    guard hiddenShape[1] == stateWidth + dimension else {
      throw ModelError.invalidArgument(
        "tensor \"adv.0.weight\" takes \(hiddenShape[1]) inputs, but adv.0 reads concat(state output, item) = "
          + "hs + d = \(stateWidth) + \(dimension) = \(stateWidth + dimension)")
    }
    let hidden = hiddenShape[0]
    guard hidden > 0 else {
      throw ModelError.invalidArgument("tensor \"adv.0.weight\" has 0 outputs; adv's hidden layer needs at least one")
    }
    advantageHidden = LinearLayer(
      weight: try tensors.floats("adv.0.weight"), bias: try tensors.floats("adv.0.bias", shape: [hidden]),
      inputs: stateWidth + dimension, outputs: hidden)
    advantageWeight = try tensors.floats("adv.2.weight", shape: [1, hidden])
    advantageBias = try tensors.floats("adv.2.bias", shape: [1])[0]

    itemAdvantage = try ItemTable(
      rows: catalogSize, width: hidden, what: "the precomputed item advantages", smaller: "a smaller catalog or adv hidden size")
    Kernels.linear(
      input: items.embedding, weight: advantageHidden.columns(from: stateWidth), bias: nil,
      output: itemAdvantage.values, rows: catalogSize, inFeatures: dimension, outFeatures: hidden,
      weightStride: advantageHidden.inputs)
  }

  var catalog: Catalog { items.catalog }

  public func recommend(_ request: Request, into result: inout Recommendations) throws {
    try request.requireCandidates(kind: Self.kind)
    try request.requireContext(count: contextDimension)
    let d = items.dimension
    let stateInputs = 2 * d + contextDimension
    let stateWidth = stateLayers.last!.outputs
    let hidden = advantageHidden.outputs
    let candidateCount = request.candidateItemIDs.count
    let historyRoom = min(request.historyItemIDs.count, maxHistory)
    let k = min(result.capacity, candidateCount)

    // Sized for the worst case (every candidate known).
    let slateScratchCount = Kernels.epsilonGreedySlateScratchCount(count: candidateCount, k: k)
    try Arena.with(
      floats: max(stateInputs, widestState) + widestState + hidden + candidateCount * hidden + candidateCount + k,
      ints: historyRoom + 2 * candidateCount + slateScratchCount + k
    ) { arena in
      let activations = arena.floats(max(stateInputs, widestState))  // s, then the state layers' output
      let next = arena.floats(widestState)
      let shared = arena.floats(hidden)
      let hiddenRows = arena.floats(candidateCount * hidden)
      let q = arena.floats(candidateCount)
      let propensities = arena.floats(k)
      let historyRows = arena.ints(historyRoom)
      let candidateRows = arena.ints(candidateCount)
      let excluded = arena.ints(candidateCount)
      let slateScratch = arena.ints(slateScratchCount)
      let slate = arena.ints(k)

      // Known candidates, in request order; unknown ones are reported and not scored.
      let known = catalog.candidateRows(request, into: candidateRows, reportingUnknownTo: &result)
      if known == 0 { return }
      let kept = catalog.historyRows(request, maxLength: maxHistory, into: historyRows)

      // s = concat(mean(item_emb[kept]), item_emb[last kept], context)
      let state = activations
      Kernels.meanOfRows(
        matrix: items.embedding, rowIndices: kept, dim: d, output: UnsafeMutableBufferPointer(rebasing: state[0..<d]))
      if kept.isEmpty {
        (state.baseAddress! + d).update(repeating: 0, count: d)
      } else {
        Kernels.gatherRows(
          matrix: items.embedding, rowIndices: UnsafeBufferPointer(rebasing: kept[(kept.count - 1)...]), dim: d,
          output: UnsafeMutableBufferPointer(rebasing: state[d..<2 * d]))
      }
      if contextDimension > 0 {
        (state.baseAddress! + 2 * d).update(from: request.context.baseAddress!, count: contextDimension)
      }

      // g = state(s): Linear + ReLU per layer.
      let stateOutput = try LinearLayer.forward(
        stateLayers[...], rows: 1, activations: activations, next: next, reluAfterLast: true)
      let g = UnsafeBufferPointer(rebasing: stateOutput[0..<stateWidth])
      let value = Kernels.dot(valueWeight, g) + valueBias

      if request.isCancelled { throw ModelError.cancelled }

      // adv.0 per candidate: precomputed item block + shared state block (+ bias), then ReLU in the
      // same pass, as a select that vectorizes (NaN stays NaN, as in nn.ReLU). A separate
      // Kernels.relu pass over these rows (its branch mispredicts on half-negative values) took a
      // quarter of a 200-candidate request.
      _ = shared.initialize(from: advantageHidden.bias)
      Kernels.gemv(matrix: advantageHidden.weight, vector: g, output: shared,
                   rows: hidden, columns: stateWidth, matrixStride: advantageHidden.inputs, beta: 1)
      let sharedRow = UnsafePointer(shared.baseAddress!)
      for slot in 0..<known {
        let out = hiddenRows.baseAddress! + slot * hidden
        let item = UnsafePointer(itemAdvantage.values.baseAddress! + Int(candidateRows[slot]) * hidden)
        for unit in 0..<hidden {
          let x = item[unit] + sharedRow[unit]
          out[unit] = x < 0 ? 0 : x
        }
      }
      // A = adv.2(hidden), then Q = V + A - mean(A) over every known candidate (excluded ones too).
      let scores = UnsafeMutableBufferPointer(rebasing: q[0..<known])
      Kernels.gemv(matrix: UnsafeBufferPointer(hiddenRows), vector: advantageWeight, output: scores,
                   rows: known, columns: hidden)
      var sum: Double = 0
      for slot in 0..<known {
        scores[slot] += advantageBias
        sum += Double(scores[slot])
      }
      let meanAdvantage = Float(sum / Double(known))
      for slot in 0..<known { scores[slot] = (value + scores[slot]) - meanAdvantage }

      // Exclusion: the request's ExclusionSet (history under exclude_history, exclude_item_ids,
      // named item sets), as the candidate positions the slate kernel must not pick.
      let excludedCount = ExclusionSet(request, catalog: catalog).excludedPositions(
        rows: UnsafeBufferPointer(rebasing: candidateRows[0..<known]), into: excluded)

      var generator = Kernels.SplitMix64(seed: request.seed)
      let chosen = Kernels.epsilonGreedySlate(
        scores: UnsafeBufferPointer(scores), k: min(k, known), epsilon: epsilon,
        excluding: excludedCount == 0 ? nil : UnsafeBufferPointer(rebasing: excluded[0..<excludedCount]),
        generator: &generator, result: slate, propensities: propensities, scratch: slateScratch)
      for slot in 0..<chosen {
        let index = Int(slate[slot])
        result.append(
          itemID: catalog.itemIDs[Int(candidateRows[index])], score: scores[index], propensity: propensities[slot])
      }
    }
  }
}

import RecSysKernels

extension Explanation {
  /// The whole explain() of a dot-product kind: the kept history and the returned items' rows
  /// (nothing to do without either), then `userVectors(kept, z)` fills `z` `[(1 + kept.count) x dim]`
  /// (row 0 the kept history's user vector, row 1 + j the one without kept event j), then the
  /// contributions as `writeDotProductOcclusion` below.
  public func writeDotProductOcclusion(
    _ request: Request, catalog: Catalog, maxHistory: Int, itemEmbedding: UnsafeBufferPointer<Float>, dim: Int,
    userVectors fill: (KeptHistory, UnsafeMutableBufferPointer<Float>) throws -> Void
  ) throws {
    guard let input = try catalog.occlusionInput(request, maxHistory: maxHistory, explaining: self) else { return }
    var userVectors = [Float](repeating: 0, count: (1 + input.kept.count) * dim)
    try userVectors.withUnsafeMutableBufferPointer { try fill(input.kept, $0) }
    userVectors.withUnsafeBufferPointer { z in
      writeDotProductOcclusion(userVectors: z, itemRows: input.itemRows, itemEmbedding: itemEmbedding, dim: dim,
                               kept: input.kept)
    }
  }

  /// Occlusion for a model that scores by dot product with item embeddings (lstm, sasrec): the
  /// returned items' rows of `itemEmbedding` (`[N x dim]`) against every user vector
  /// (`userVectors` `[(1 + kept.count) x dim]`: the kept history's, then each one-event-removed
  /// history's), one GEMM, then the contributions. Only the returned items are scored.
  public func writeDotProductOcclusion(userVectors: UnsafeBufferPointer<Float>, itemRows: [Int32],
                                       itemEmbedding: UnsafeBufferPointer<Float>, dim: Int, kept: KeptHistory) {
    let histories = 1 + kept.count
    var gathered = [Float](repeating: 0, count: itemRows.count * dim)
    var scores = [Float](repeating: 0, count: histories * itemRows.count)
    itemRows.withUnsafeBufferPointer { rows in
      gathered.withUnsafeMutableBufferPointer { Kernels.gatherRows(matrix: itemEmbedding, rowIndices: rows, dim: dim, output: $0) }
    }
    gathered.withUnsafeBufferPointer { itemVectors in
      scores.withUnsafeMutableBufferPointer { scores in
        Kernels.linear(input: userVectors, weight: itemVectors, bias: nil, output: scores,
                       rows: histories, inFeatures: dim, outFeatures: itemRows.count)
      }
    }
    scores.withUnsafeBufferPointer { writeOcclusion(scores: $0, kept: kept) }
  }
}

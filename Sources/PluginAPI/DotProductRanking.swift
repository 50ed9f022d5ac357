import RecSysKernels

/// Ranking for kinds that reduce a request to one user vector `z` and score an item by
/// `item_emb[item] · z` (the sequence kinds `lstm` and `sasrec`, models.md).
extension Ranking {
  /// Floats of score space `writeTopDotProducts` needs for `request`: one per candidate, or one per
  /// catalog row when the request names no candidates (whole-catalog ranking). Callers fold it into
  /// their one per-request scratch allocation.
  public static func dotProductScoreCount(_ request: Request, catalog: Catalog) -> Int {
    request.candidateItemIDs.isEmpty ? catalog.count : request.candidateItemIDs.count
  }

  /// Scores and ranks by `item_emb[item] · userVector`:
  /// - with candidates: the known ones, one dot product each; unknown ones go to the result's unknown
  ///   list;
  /// - without: every catalog row, as one GEMV `item_emb [N x d] · z`, then the top-k kernel (no sort
  ///   of the N scores).
  /// With `excludeHistory`, every item that occurs anywhere in the request's history is left out of
  /// the result (also events older than the model's max_history), but is still scored.
  public static func writeTopDotProducts(
    userVector: UnsafeBufferPointer<Float>,  // [d]
    itemEmbedding: UnsafeBufferPointer<Float>,  // [N x d], row r = catalog row r
    dimension: Int,
    request: Request, catalog: Catalog,
    scores: UnsafeMutableBufferPointer<Float>,  // [dotProductScoreCount(request, catalog:)] or more
    into result: inout Recommendations
  ) {
    precondition(scores.count >= dotProductScoreCount(request, catalog: catalog), "writeTopDotProducts: scores too small")
    let excluded = request.excludeHistory ? catalog.allHistoryRows(request) : []
    if request.candidateItemIDs.isEmpty {
      let catalogScores = UnsafeMutableBufferPointer(rebasing: scores[0..<catalog.count])
      Kernels.gemv(matrix: itemEmbedding, vector: userVector, output: catalogScores, rows: catalog.count, columns: dimension)
      writeTopCatalog(scores: UnsafeBufferPointer(catalogScores), catalog: catalog, excludedRows: excluded, into: &result)
      return
    }
    let (rows, _) = catalog.candidates(request, reportingUnknownTo: &result)
    let z = UnsafeBufferPointer(rebasing: userVector[0..<dimension])
    for (slot, row) in rows.enumerated() {
      let start = Int(row) * dimension
      scores[slot] = Kernels.dot(UnsafeBufferPointer(rebasing: itemEmbedding[start..<start + dimension]), z)
    }
    writeTopCandidates(
      scores: UnsafeBufferPointer(rebasing: scores[0..<rows.count]), rows: rows, catalog: catalog,
      excludedRows: excluded, into: &result)
  }
}

import RecSysKernels

/// Ranking for kinds that reduce a request to one user vector `z` and score an item by
/// `item_emb[item] · z` (the sequence kinds `lstm` and `sasrec`, models.md).
extension Ranking {
  /// Rows of one block of the whole-catalog GEMV between cancellation checks (4096 x d=64 floats =
  /// 1 MiB; splitting the 50 000-row product into 13 BLAS calls costs nothing measurable).
  public static let catalogBlockRows = 4096

  /// Floats of score space `writeTopDotProducts` needs for `request`: one per candidate, or one per
  /// catalog row when the request names no candidates (whole-catalog ranking). Callers fold it into
  /// their one per-request scratch allocation.
  public static func dotProductScoreCount(_ request: Request, catalog: Catalog) -> Int {
    request.candidateItemIDs.isEmpty ? catalog.count : request.candidateItemIDs.count
  }

  /// Scores and ranks by `item_emb[item] · userVector`:
  /// - with candidates: the known ones (`Kernels.dotRows`); unknown ones go to the result's unknown
  ///   list;
  /// - without: every catalog row, as one GEMV `item_emb [N x d] · z`, then the top-k kernel (no sort
  ///   of the N scores).
  /// With `excludeHistory`, every item that occurs anywhere in the request's history is left out of
  /// the result (also events older than the model's max_history), but is still scored.
  ///
  /// The whole-catalog GEMV runs in blocks of `catalogBlockRows` rows with the request's cancel flag
  /// checked between blocks, so a call the client gave up on stops within one block (~1 MB of the
  /// table, a few tens of µs) and throws `ModelError.cancelled`.
  public static func writeTopDotProducts(
    userVector: UnsafeBufferPointer<Float>,  // [d]
    itemEmbedding: UnsafeBufferPointer<Float>,  // [N x d], row r = catalog row r
    dimension: Int,
    request: Request, catalog: Catalog,
    scores: UnsafeMutableBufferPointer<Float>,  // [dotProductScoreCount(request, catalog:)] or more
    into result: inout Recommendations
  ) throws {
    precondition(scores.count >= dotProductScoreCount(request, catalog: catalog), "writeTopDotProducts: scores too small")
    let excluded = request.excludeHistory ? catalog.allHistoryRows(request) : []
    if request.candidateItemIDs.isEmpty {
      let catalogScores = UnsafeMutableBufferPointer(rebasing: scores[0..<catalog.count])
      for start in stride(from: 0, to: catalog.count, by: catalogBlockRows) {
        if request.isCancelled { throw ModelError.cancelled }
        let rows = min(catalogBlockRows, catalog.count - start)
        Kernels.gemv(
          matrix: UnsafeBufferPointer(rebasing: itemEmbedding[(start * dimension)...]), vector: userVector,
          output: UnsafeMutableBufferPointer(rebasing: catalogScores[start..<start + rows]),
          rows: rows, columns: dimension)
      }
      writeTopCatalog(scores: UnsafeBufferPointer(catalogScores), catalog: catalog, excludedRows: excluded, into: &result)
      return
    }
    let (rows, _) = catalog.candidates(request, reportingUnknownTo: &result)
    rows.withUnsafeBufferPointer { rows in
      Kernels.dotRows(
        matrix: itemEmbedding, rowIndices: rows, vector: userVector, dim: dimension,
        output: UnsafeMutableBufferPointer(rebasing: scores[0..<rows.count]))
    }
    writeTopCandidates(
      scores: UnsafeBufferPointer(rebasing: scores[0..<rows.count]), rows: rows, catalog: catalog,
      excludedRows: excluded, into: &result)
  }
}

import RecSysKernels

/// Ranking for kinds that reduce a request to one user vector `z` and score an item by
/// `item_emb[item] · z` (the sequence kinds `lstm` and `sasrec`, models.md).
extension Ranking {
  /// Floats of score space `writeTopDotProducts` needs for `request`: one per candidate (a
  /// whole-catalog call needs none: `CatalogRetrieval` streams its scan). Callers fold it into
  /// their one per-request scratch allocation.
  public static func dotProductScoreCount(_ request: Request) -> Int {
    request.candidateItemIDs.count
  }

  /// Scores and ranks by `item_emb[item] · userVector`:
  /// - with candidates: the known ones (`Kernels.dotRows`); unknown ones go to the result's unknown
  ///   list;
  /// - without: the whole catalog, through the version's `CatalogRetrieval` (exact or quantized).
  /// Every item the request's `ExclusionSet` excludes (history under exclude_history, the
  /// request's exclude_item_ids and named item sets) is left out of the result, in every mode.
  ///
  /// A whole-catalog scan checks the request's cancel flag between blocks, so a call the client
  /// gave up on stops within one block (~1 MB of the table) and throws `ModelError.cancelled`.
  public static func writeTopDotProducts(
    userVector: UnsafeBufferPointer<Float>,  // [d]
    retrieval: CatalogRetrieval,
    request: Request,
    scores: UnsafeMutableBufferPointer<Float>,  // [dotProductScoreCount(request)] or more
    into result: inout Recommendations
  ) throws {
    precondition(scores.count >= dotProductScoreCount(request), "writeTopDotProducts: scores too small")
    let catalog = retrieval.catalog
    let exclusion = ExclusionSet(request, catalog: catalog)
    if request.candidateItemIDs.isEmpty {
      try retrieval.writeTop(userVector: userVector, request: request, excluding: exclusion, into: &result)
      return
    }
    let (rows, _) = catalog.candidates(request, reportingUnknownTo: &result)
    rows.withUnsafeBufferPointer { rows in
      Kernels.dotRows(
        matrix: retrieval.itemEmbedding, rowIndices: rows, vector: userVector, dim: retrieval.dimension,
        output: UnsafeMutableBufferPointer(rebasing: scores[0..<rows.count]))
    }
    writeTopCandidates(
      scores: UnsafeBufferPointer(rebasing: scores[0..<rows.count]), rows: rows, catalog: catalog,
      excluding: exclusion, into: &result)
  }
}

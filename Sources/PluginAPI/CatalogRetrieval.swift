import RecSysKernels

/// How a dot-product kind (`lstm`, `sasrec`) finds the best items of the whole catalog for a
/// user vector z, per model version (model.json `"retrieval"`):
/// - `"exact"` (default): every row's fp32 `item_emb[r] · z`, then the top-k kernel;
/// - `"quantized"`: an int8 copy of the table (one scale per row) is scanned for the best
///   `retrieval_rerank` rows (default 200, at least top_k), which are then re-scored in fp32: the
///   scan reads a quarter of the bytes, and the returned scores are the exact ones.
///
/// Indexes are built at load from the version's own weights (so they are covered by its checksum
/// and a load stays atomic and checked like any other): the int8 table takes one pass over the
/// weights (about 1 s for 5 million rows of d = 64).
///
/// Eligibility filters (`ExclusionSet`) are applied inside the selection of every mode, never
/// after it: an excluded row never takes a place, so the result is full whenever enough eligible
/// items exist.
public final class CatalogRetrieval: @unchecked Sendable {
  public enum Mode: String, CaseIterable, Sendable {
    case exact, quantized
  }

  /// Rows of one block of a whole-catalog scan between cancellation checks (4096 x d=64 floats =
  /// 1 MiB; splitting the 50 000-row product into 13 BLAS calls costs nothing measurable).
  public static let blockRows = 4096
  /// `retrieval_rerank`: how many rows of the int8 scan are re-scored in fp32.
  public static let rerankRange: ClosedRange<Int> = 1...100_000
  public static let defaultRerank = 200

  public let mode: Mode
  let catalog: Catalog
  let itemEmbedding: UnsafeBufferPointer<Float>  // [N x d]
  let dimension: Int
  let rerank: Int
  private let quantizedRows: UnsafeMutableBufferPointer<Int8>  // [N x d] in quantized mode, else empty
  private let rowScales: UnsafeMutableBufferPointer<Float>  // [N] in quantized mode, else empty

  public init(manifest: Manifest, catalog: Catalog, itemEmbedding: UnsafeBufferPointer<Float>, dimension: Int) throws {
    let name = try manifest.choice("retrieval", among: Mode.allCases.map(\.rawValue), default: Mode.exact.rawValue)
    mode = Mode(rawValue: name)!
    rerank = try manifest.integer("retrieval_rerank", default: Self.defaultRerank, in: Self.rerankRange)
    self.catalog = catalog
    self.itemEmbedding = itemEmbedding
    self.dimension = dimension
    switch mode {
    case .exact:
      quantizedRows = .allocate(capacity: 0)
      rowScales = .allocate(capacity: 0)
    case .quantized:
      quantizedRows = .allocate(capacity: catalog.count * dimension)
      rowScales = .allocate(capacity: catalog.count)
      Kernels.quantizeRowsInt8(
        itemEmbedding, rows: catalog.count, dim: dimension, into: quantizedRows, scales: rowScales)
    }
  }

  deinit {
    quantizedRows.deallocate()
    rowScales.deallocate()
  }

  /// Bytes of index this mode holds besides the weights (the int8 table and its scales).
  public var indexByteCount: Int { quantizedRows.count + 4 * rowScales.count }

  /// Floats of score space a whole-catalog call needs (one per catalog row).
  public var scoreCount: Int { catalog.count }

  /// Writes the best `result.capacity` eligible catalog items for `userVector`, best first (ties
  /// to the lower row). Checks the request's cancel flag between blocks of `blockRows` rows.
  public func writeTop(
    userVector: UnsafeBufferPointer<Float>,  // [d]
    request: Request, excluding exclusion: ExclusionSet,
    scores: UnsafeMutableBufferPointer<Float>,  // [scoreCount] or more
    into result: inout Recommendations
  ) throws {
    precondition(scores.count >= scoreCount, "CatalogRetrieval.writeTop: scores too small")
    let catalogScores = UnsafeMutableBufferPointer(rebasing: scores[0..<catalog.count])
    switch mode {
    case .exact:
      try scanExact(userVector, request, into: catalogScores)
      Ranking.writeTopCatalog(scores: UnsafeBufferPointer(catalogScores), catalog: catalog, excluding: exclusion, into: &result)
    case .quantized:
      try scanQuantized(userVector, request, into: catalogScores)
      rescoreBest(userVector, approximate: UnsafeBufferPointer(catalogScores), excluding: exclusion, into: &result)
    }
  }

  /// `scores[r] = item_emb[r] · z` for every row, one GEMV per block.
  private func scanExact(_ z: UnsafeBufferPointer<Float>, _ request: Request, into scores: UnsafeMutableBufferPointer<Float>) throws {
    for start in stride(from: 0, to: catalog.count, by: Self.blockRows) {
      if request.isCancelled { throw ModelError.cancelled }
      let rows = min(Self.blockRows, catalog.count - start)
      Kernels.gemv(
        matrix: UnsafeBufferPointer(rebasing: itemEmbedding[(start * dimension)...]), vector: z,
        output: UnsafeMutableBufferPointer(rebasing: scores[start..<start + rows]),
        rows: rows, columns: dimension)
    }
  }

  /// `scores[r] ~= item_emb[r] · z` from the int8 table, block by block.
  private func scanQuantized(_ z: UnsafeBufferPointer<Float>, _ request: Request, into scores: UnsafeMutableBufferPointer<Float>) throws {
    try withUnsafeTemporaryAllocation(of: Int8.self, capacity: dimension) { query in
      let queryScale = Kernels.quantizeInt8(z, into: query)
      for start in stride(from: 0, to: catalog.count, by: Self.blockRows) {
        if request.isCancelled { throw ModelError.cancelled }
        let rows = min(Self.blockRows, catalog.count - start)
        Kernels.int8Scores(
          quantized: UnsafeBufferPointer(rebasing: quantizedRows[(start * dimension)..<((start + rows) * dimension)]),
          scales: UnsafeBufferPointer(rebasing: rowScales[start..<start + rows]),
          query: UnsafeBufferPointer(query), queryScale: queryScale, rows: rows, dim: dimension,
          output: UnsafeMutableBufferPointer(rebasing: scores[start..<start + rows]))
      }
    }
  }

  /// The best `max(rerank, k)` eligible rows by approximate score, re-scored exactly in fp32; the
  /// best k of those, best first. The rows are put in ascending order before re-scoring so ties in
  /// the exact scores go to the lower row, as in `exact`.
  private func rescoreBest(
    _ z: UnsafeBufferPointer<Float>, approximate: UnsafeBufferPointer<Float>, excluding exclusion: ExclusionSet,
    into result: inout Recommendations
  ) {
    let shortlist = min(max(rerank, result.capacity), catalog.count)
    guard shortlist > 0 else { return }
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: shortlist) { rows in
      let found = Kernels.topK(scores: approximate, k: shortlist, into: rows, excluded: { exclusion.excludes(row: $0) })
      var kept = UnsafeMutableBufferPointer(rebasing: rows[0..<found])
      kept.sort()
      withUnsafeTemporaryAllocation(of: Float.self, capacity: max(found, 1)) { exact in
        Kernels.dotRows(
          matrix: itemEmbedding, rowIndices: UnsafeBufferPointer(kept), vector: z, dim: dimension,
          output: UnsafeMutableBufferPointer(rebasing: exact[0..<found]))
        let keptRows = Array(kept)
        Ranking.writeTopCandidates(
          scores: UnsafeBufferPointer(rebasing: exact[0..<found]), rows: keptRows, catalog: catalog,
          excluding: ExclusionSet.none, into: &result)
      }
    }
  }
}

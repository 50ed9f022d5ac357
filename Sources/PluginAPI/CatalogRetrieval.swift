import CFaissIVF
import CRecSysScan
import CRecSysPlugin
import RecSysKernels

/// How a dot-product kind (`lstm`, `sasrec`) finds the best items of the whole catalog for a
/// user vector z, per model version (model.json `"retrieval"`):
/// - `"exact"` (default): every row's fp32 `item_emb[r] · z` (an AVX2 scan at the memory's read
///   bandwidth), streamed into a running top-k. With the int8 pre-pass (`retrieval_prefilter`,
///   on by default for tables up to 64 MiB) a scan reads an int8 copy of the table instead and
///   re-scores in fp32 only the rows whose rigorous score bound can reach the top-k: the same
///   items and the same score bits from about a quarter of the bytes (`scanPrefiltered`);
/// - `"quantized"`: an int8 copy of the table (one scale per row) is scanned for the best
///   `retrieval_rerank` rows (default 200, at least top_k), which are then re-scored in fp32: the
///   scan reads a quarter of the bytes, and the returned scores are the exact ones;
/// - `"approximate"`: FAISS's inverted file (IVF-Flat, inner product; `recsys_ivf.h`):
///   `retrieval_lists` lists (default 2 sqrt(N)), of which a call ranks the rows of the
///   `retrieval_probes` whose centres score best against z. Reads a few percent of the table;
///   returned scores are exact, the set is not guaranteed to be the true top-k. Without
///   `retrieval_probes` the probe count is tuned at load (`tuneProbes`) until recall@10 against
///   exact reaches `retrieval_recall` (default 0.97) on test queries, within a budget of rows a
///   call may rank.
///
/// Indexes are built at load from the version's own weights (so they are covered by its checksum
/// and a load stays atomic and checked like any other): the int8 table takes one pass over the
/// weights (about 1 s for 5 million rows of d = 64); the IVF index trains its centres on a sample
/// of 50 rows per list and files every row under one (seconds at 50k rows, minutes at 5 million on
/// two cores: docs/retrieval.md has the figures).
///
/// Eligibility filters (`ExclusionSet`) are applied inside the selection of every mode, never
/// after it: an excluded row never takes a place, so the result is full whenever enough eligible
/// items exist (an IVF search whose probed lists hold too few eligible rows falls back to the
/// exact scan).
public final class CatalogRetrieval: @unchecked Sendable {
  public enum Mode: String, CaseIterable, Sendable {
    case exact, quantized, approximate
  }

  /// `retrieval_prefilter` (exact mode only; other modes ignore it): the int8 pre-pass `auto` (on
  /// for fp32 tables of at most `autoPrefilterTableBytes`), `int8` (on at any size) or `off`.
  public enum Prefilter: String, CaseIterable, Sendable {
    case auto, int8, off
  }
  /// The largest fp32 table `auto` gives an int8 copy (at most a quarter of this more memory).
  public static let autoPrefilterTableBytes = 64 << 20

  /// Rows of one block of a whole-catalog scan between cancellation checks (4096 x d=64 floats =
  /// 1 MiB of table; the block's 16 KiB of scores stay in L1 while the top-k reads them).
  public static let blockRows = 4096
  /// `retrieval_rerank`: how many rows of the int8 scan are re-scored in fp32.
  public static let rerankRange: ClosedRange<Int> = 1...100_000
  public static let defaultRerank = 200
  /// `retrieval_lists` and `retrieval_probes` (approximate).
  public static let listsRange: ClosedRange<Int> = 1...1_000_000
  /// `retrieval_recall`: the recall@10 the tuned probe count must reach on the test queries
  /// (a margin above issue 18's 0.95: the test queries are not the model's user vectors).
  public static let defaultTargetRecall = 0.97
  public static let targetRecallRange: ClosedRange<Double> = 0.5...1.0
  /// Test queries of the probe tuning (half near rows, half random directions: recsys_ivf.h).
  public static let tuningQueries = 256
  /// Rows one approximate call may rank when probes are tuned (the cap of the tuning). Measured
  /// (lstm, 1M clustered items, 2000 lists, two busy cores): a cap of 65 536 rows (131 probes) left
  /// recall@10 at 0.915, 131 072 (262) reached 0.998 at p50 7.6 ms. At 5M the 4472 lists match the
  /// catalog's clusters and 64 probes (72k rows) already reached recall 1.0 at p99 9 ms, so the
  /// tuning stops well below this cap there.
  public static let tunedRowBudget = 1 << 17
  /// The largest probe count tuning may choose: the row budget spread over lists of N/lists rows.
  public static func maximumTunedProbes(lists: Int, rows: Int) -> Int {
    max(1, min(lists, tunedRowBudget * lists / max(rows, 1)))
  }
  /// 2 sqrt(N) lists (FAISS suggests 1-16 sqrt(N)): 4472 at 5 million rows, so a call with the
  /// default probes ranks about 1.4 % of the rows. (sqrt(N) lists with 32 probes measured recall@10
  /// 0.86 for an lstm over 1M clustered items; the lists merged several clusters each.)
  public static func defaultLists(_ rows: Int) -> Int {
    max(1, min(rows, Int((2 * Double(rows).squareRoot()).rounded())))
  }
  /// Training rows per IVF list.
  public static let trainingRowsPerList = 50

  public let mode: Mode
  /// The fp32 table fits in half the last-level cache, so it stays there between calls and the
  /// scan skips its prefetches (50k rows of d = 64 in a 32 MiB L3).
  let tableStaysInCache: Bool
  let catalog: Catalog
  let itemEmbedding: UnsafeBufferPointer<Float>  // [N x d]
  let dimension: Int
  let rerank: Int
  /// The exact mode scans through its int8 pre-pass (`retrieval_prefilter`).
  public let prefiltered: Bool
  let quantizedRows: UnsafeMutableBufferPointer<Int8>  // [N x d] quantized or prefiltered, else empty
  let rowScales: UnsafeMutableBufferPointer<Float>  // [N] quantized or prefiltered, else empty
  let residualNorms: UnsafeMutableBufferPointer<Float>  // [N] prefiltered, else empty (Int8.swift)
  let codeNorms: UnsafeMutableBufferPointer<Float>  // [N] prefiltered, else empty
  /// The largest norm of a row with finite values (prefiltered: rules out overflow per call).
  let largestRowNorm: Float
  private let ivf: OpaquePointer?  // recsys_ivf in approximate mode
  /// Lists an approximate search probes (`retrieval_probes`, or tuned at load).
  public let probes: Int
  /// recall@10 the tuned probes reached on the test queries (nil: probes from model.json, or not
  /// approximate).
  public let tunedRecall: Double?

  public init(manifest: Manifest, catalog: Catalog, itemEmbedding: UnsafeBufferPointer<Float>, dimension: Int) throws {
    let name = try manifest.choice("retrieval", among: Mode.allCases.map(\.rawValue), default: Mode.exact.rawValue)
    mode = Mode(rawValue: name)!
    let prefilter = Prefilter(rawValue: try manifest.choice(
      "retrieval_prefilter", among: Prefilter.allCases.map(\.rawValue), default: Prefilter.auto.rawValue))!
    rerank = try manifest.integer("retrieval_rerank", default: Self.defaultRerank, in: Self.rerankRange)
    let lists = try manifest.integer(
      "retrieval_lists", default: Self.defaultLists(catalog.count), in: Self.listsRange)
    let givenProbes = try manifest.integer("retrieval_probes", default: 0, in: Self.listsRange)  // 0: absent
    let targetRecall = try manifest.number(
      "retrieval_recall", default: Self.defaultTargetRecall, in: Self.targetRecallRange)
    self.catalog = catalog
    self.itemEmbedding = itemEmbedding
    self.dimension = dimension
    tableStaysInCache = catalog.count * dimension * MemoryLayout<Float>.size <= Kernels.scanCacheBytes / 2
    ivf = mode == .approximate ? try Self.buildIVF(itemEmbedding, rows: catalog.count, dim: dimension, lists: lists) : nil
    if let ivf, givenProbes == 0 {
      (probes, tunedRecall) = try Self.tuneProbes(
        ivf, itemEmbedding, rows: catalog.count, lists: lists, targetRecall: targetRecall)
    } else {
      (probes, tunedRecall) = (max(givenProbes, 1), nil)
    }
    let wantsPrefilter = mode == .exact && (prefilter == .int8 || prefilter == .auto
      && catalog.count * dimension * MemoryLayout<Float>.size <= Self.autoPrefilterTableBytes)
    let none = (UnsafeMutableBufferPointer<Float>(start: nil, count: 0), UnsafeMutableBufferPointer<Float>(start: nil, count: 0))
    switch mode {
    case .exact where wantsPrefilter:
      if let table = Self.allocatePrefilterTable(rows: catalog.count, dim: dimension) {
        (quantizedRows, rowScales, residualNorms, codeNorms) = table
        Kernels.quantizeRowsInt8(
          itemEmbedding, rows: catalog.count, dim: dimension, into: quantizedRows, scales: rowScales)
        largestRowNorm = Kernels.int8ErrorNorms(
          itemEmbedding, quantized: UnsafeBufferPointer(quantizedRows), scales: UnsafeBufferPointer(rowScales),
          rows: catalog.count, dim: dimension, residualNorms: residualNorms, codeNorms: codeNorms)
        prefiltered = true
      } else if prefilter == .auto {
        // `auto` only saves time: without the memory the plain scan gives the same answers.
        (quantizedRows, rowScales) = (.init(start: nil, count: 0), .init(start: nil, count: 0))
        (residualNorms, codeNorms, largestRowNorm, prefiltered) = (none.0, none.1, 0, false)
      } else {
        throw ModelError(
          code: RECSYS_FAILED_PRECONDITION,
          "retrieval_prefilter \"int8\": cannot allocate the int8 copy of \(catalog.count) x \(dimension) rows; use \"auto\" or \"off\", or free memory")
      }
    case .exact, .approximate:
      (quantizedRows, rowScales) = (.init(start: nil, count: 0), .init(start: nil, count: 0))
      (residualNorms, codeNorms, largestRowNorm, prefiltered) = (none.0, none.1, 0, false)
    case .quantized:
      guard let rows = Kernels.allocateScanTable(of: Int8.self, count: catalog.count * dimension),
        let scales = Kernels.allocateScanTable(of: Float.self, count: catalog.count)
      else {
        throw ModelError(
          code: RECSYS_FAILED_PRECONDITION,
          "retrieval \"quantized\": cannot allocate the int8 copy of \(catalog.count) x \(dimension) rows; use \"exact\" or free memory")
      }
      (quantizedRows, rowScales) = (rows, scales)
      (residualNorms, codeNorms, largestRowNorm, prefiltered) = (none.0, none.1, 0, false)
      Kernels.quantizeRowsInt8(
        itemEmbedding, rows: catalog.count, dim: dimension, into: quantizedRows, scales: rowScales)
    }
  }

  /// The pre-pass's int8 codes, scales and row norms, all or nothing.
  private static func allocatePrefilterTable(rows: Int, dim: Int) -> (
    UnsafeMutableBufferPointer<Int8>, UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>,
    UnsafeMutableBufferPointer<Float>
  )? {
    let codes = Kernels.allocateScanTable(of: Int8.self, count: rows * dim)
    let floats = (0..<3).map { _ in Kernels.allocateScanTable(of: Float.self, count: rows) }
    if let codes, let scales = floats[0], let residuals = floats[1], let norms = floats[2] {
      return (codes, scales, residuals, norms)
    }
    if let codes { Kernels.freeScanTable(codes) }
    for case let table? in floats { Kernels.freeScanTable(table) }
    return nil
  }

  deinit {
    Kernels.freeScanTable(quantizedRows)
    Kernels.freeScanTable(rowScales)
    Kernels.freeScanTable(residualNorms)
    Kernels.freeScanTable(codeNorms)
    recsys_ivf_free(ivf)
  }

  private static func buildIVF(_ rows: UnsafeBufferPointer<Float>, rows count: Int, dim: Int, lists: Int) throws -> OpaquePointer {
    guard lists <= count else {
      throw ModelError.invalidArgument(
        "model.json: \"retrieval_lists\" is \(lists), more than the catalog's \(count) items; use at most \(count) (about 2 sqrt(N) is usual)")
    }
    let capacity = 512
    return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { error in
      error[0] = 0
      guard let built = recsys_ivf_build(
        rows.baseAddress, count, dim, lists, lists * trainingRowsPerList, error.baseAddress, capacity)
      else { throw ModelError.invalidArgument(String(cString: error.baseAddress!)) }
      return built
    }
  }

  /// The fewest probes (1, 2, 4, ...) whose recall@10 reaches `targetRecall` on the test queries,
  /// at most `maximumTunedProbes`; and the recall they reached.
  private static func tuneProbes(
    _ ivf: OpaquePointer, _ rows: UnsafeBufferPointer<Float>, rows count: Int, lists: Int, targetRecall: Double
  ) throws -> (Int, Double) {
    var recall = 0.0
    let capacity = 512
    let probes = try withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { error in
      error[0] = 0
      let probes = recsys_ivf_tune_probes(
        ivf, rows.baseAddress, count, tuningQueries, 10, targetRecall, maximumTunedProbes(lists: lists, rows: count),
        &recall, error.baseAddress, capacity)
      guard probes > 0 else { throw ModelError.invalidArgument(String(cString: error.baseAddress!)) }
      return probes
    }
    return (probes, recall)
  }

  /// Bytes of index this mode holds besides the weights (the int8 table and its scales, with the
  /// pre-pass's row norms; or the IVF index's copy of the rows).
  public var indexByteCount: Int {
    quantizedRows.count + 4 * (rowScales.count + residualNorms.count + codeNorms.count) + recsys_ivf_byte_count(ivf)
  }

  /// Writes the best `result.capacity` eligible catalog items for `userVector`, best first (ties
  /// to the lower row). The scan scores one block of `blockRows` rows at a time into a small
  /// buffer and offers it to a running top-k, so a call holds no score per catalog row; the
  /// request's cancel flag is checked between blocks.
  public func writeTop(
    userVector: UnsafeBufferPointer<Float>,  // [d]
    request: Request, excluding exclusion: ExclusionSet,
    into result: inout Recommendations
  ) throws {
    switch mode {
    case .exact:
      if prefiltered, try writeTopPrefiltered(userVector, request, exclusion, into: &result) { return }
      try withBestOfCatalog(min(result.capacity, catalog.count), request, exclusion) { start, rows, output in
        Kernels.scanDotProducts(
          matrix: UnsafeBufferPointer(rebasing: itemEmbedding[(start * dimension)..<((start + rows) * dimension)]),
          query: userVector, rows: rows, dim: dimension, output: output, cached: tableStaysInCache)
      } found: { rows, scores in
        for slot in rows.indices { result.append(itemID: catalog.itemIDs[Int(rows[slot])], score: scores[slot]) }
      }
    case .quantized:
      let shortlist = min(max(rerank, result.capacity), catalog.count)
      try withUnsafeTemporaryAllocation(of: Int8.self, capacity: dimension) { query in
        let queryScale = Kernels.quantizeInt8(userVector, into: query)
        try withBestOfCatalog(shortlist, request, exclusion) { start, rows, output in
          Kernels.int8Scores(
            quantized: UnsafeBufferPointer(rebasing: quantizedRows[(start * dimension)..<((start + rows) * dimension)]),
            scales: UnsafeBufferPointer(rebasing: rowScales[start..<start + rows]),
            query: UnsafeBufferPointer(query), queryScale: queryScale, rows: rows, dim: dimension, output: output)
        } found: { rows, _ in
          rescore(userVector, shortlist: rows, into: &result)
        }
      }
    case .approximate:
      if try !searchIVF(userVector, excluding: exclusion, into: &result) {
        // The probed lists held fewer eligible rows than asked for (a heavy filter): scan them all.
        try Self(exactFrom: self).writeTop(userVector: userVector, request: request, excluding: exclusion, into: &result)
      }
    }
  }

  /// The exact mode through its int8 pre-pass (`scanPrefiltered`); false (writing nothing) when no
  /// bound holds for this z (a non-finite value, or scores that could overflow): then the plain
  /// scan answers.
  private func writeTopPrefiltered(
    _ userVector: UnsafeBufferPointer<Float>, _ request: Request, _ exclusion: ExclusionSet,
    into result: inout Recommendations
  ) throws -> Bool {
    let k = min(result.capacity, catalog.count)
    guard k > 0 else { return true }
    let z = UnsafeBufferPointer(rebasing: userVector[0..<dimension])
    return try withUnsafeTemporaryAllocation(of: Int8.self, capacity: dimension) { codes in
      let scale = Kernels.quantizeInt8(z, into: codes)
      // |score|, its bound and every partial sum stay below 64 ||x|| ||z|| (Int8.swift).
      guard let (norm, residualNorm) = Kernels.int8QueryNorms(z, codes: UnsafeBufferPointer(codes), scale: scale),
        (largestRowNorm * norm * 64).isFinite
      else { return false }
      let query = PrefilterQuery(
        z: z, codes: UnsafeBufferPointer(codes), scale: scale, norm: norm, residualNorm: residualNorm)
      try withBestOfCatalog(k, sharingFrom: Self.sharedPrefilterBytes, scanning: { next, best in
        try scanPrefiltered(claiming: next, request, exclusion, query, into: &best)
      }) { rows, scores in
        for slot in rows.indices { result.append(itemID: catalog.itemIDs[Int(rows[slot])], score: scores[slot]) }
      }
      recsys_scan_prefilter_count(1, 0)
      return true
    }
  }

  /// The IVF search; false (writing nothing) when it found fewer than `result.capacity` rows.
  private func searchIVF(
    _ z: UnsafeBufferPointer<Float>, excluding exclusion: ExclusionSet, into result: inout Recommendations
  ) throws -> Bool {
    let k = min(result.capacity, catalog.count)
    guard k > 0, let ivf else { return true }
    return try withUnsafeTemporaryAllocation(of: Int64.self, capacity: k) { rows in
      try withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { scores in
        try withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { error in
          error[0] = 0
          let found = Int(recsys_ivf_search(
            ivf, z.baseAddress, k, probes, exclusion.isEmpty ? nil : excludedRow,
            Unmanaged.passUnretained(exclusion).toOpaque(), rows.baseAddress, scores.baseAddress,
            error.baseAddress, 256))
          guard found >= 0 else { throw ModelError(code: RECSYS_INTERNAL, String(cString: error.baseAddress!)) }
          guard found == k else { return false }
          // Best first, ties to the lower row (as the other modes).
          let order = (0..<found).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : rows[$0] < rows[$1] }
          for slot in order { result.append(itemID: catalog.itemIDs[Int(rows[slot])], score: scores[slot]) }
          return true
        }
      }
    }
  }

  /// A view of `other`'s table in exact mode (the approximate mode's fallback): no copy, no index.
  private init(exactFrom other: CatalogRetrieval) {
    mode = .exact
    tableStaysInCache = other.tableStaysInCache
    catalog = other.catalog
    itemEmbedding = other.itemEmbedding
    dimension = other.dimension
    rerank = other.rerank
    probes = other.probes
    tunedRecall = nil
    prefiltered = false
    (quantizedRows, rowScales) = (.init(start: nil, count: 0), .init(start: nil, count: 0))
    (residualNorms, codeNorms) = (.init(start: nil, count: 0), .init(start: nil, count: 0))
    largestRowNorm = 0
    ivf = nil
  }

  /// Re-scores the shortlist (eligible rows, best first by the int8 scan) in fp32 and writes the
  /// best `result.capacity` of them. The rows are put in ascending order first, so ties in the
  /// exact scores go to the lower row, as in `exact`.
  private func rescore(
    _ z: UnsafeBufferPointer<Float>, shortlist: UnsafeMutableBufferPointer<Int32>, into result: inout Recommendations
  ) {
    let rows = shortlist.sorted()
    withUnsafeTemporaryAllocation(of: Float.self, capacity: rows.count) { exact in
      rows.withUnsafeBufferPointer { rows in
        Kernels.dotRows(matrix: itemEmbedding, rowIndices: rows, vector: z, dim: dimension, output: exact)
      }
      Ranking.writeTopCandidates(
        scores: UnsafeBufferPointer(exact), rows: rows, catalog: catalog, excluding: ExclusionSet.none, into: &result)
    }
  }
}

/// FAISS's per-row filter test: the context is the request's `ExclusionSet`.
private let excludedRow: @convention(c) (UnsafeMutableRawPointer?, Int64) -> Int32 = { context, row in
  let exclusion = Unmanaged<ExclusionSet>.fromOpaque(UnsafeRawPointer(context!)).takeUnretainedValue()
  return exclusion.excludes(row: Int32(truncatingIfNeeded: row)) ? 1 : 0
}

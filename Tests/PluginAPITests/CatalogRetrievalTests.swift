import CRecSysPlugin
import CRecSysScan
import PluginAPI
import XCTest

/// The retrieval modes against a plain reference (every row's fp32 dot product, sorted, filters
/// applied): exact and an IVF probing every list equal it, quantized finds nearly the same items,
/// every mode returns exact scores and honours the ExclusionSet with top-k filled.
final class CatalogRetrievalTests: XCTestCase {
  var rows = 3000
  let dim = 16
  var ids: [Int64] = []
  var table: [Float] = []

  override func setUp() {
    var state: UInt64 = 18
    func uniform() -> Float {  // SplitMix64, [-1, 1)
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return Float((z ^ (z >> 31)) >> 40) / Float(1 << 23) - 1
    }
    ids = (0..<rows).map { 5_000 + 3 * Int64($0) }
    let centres = (0..<20 * dim).map { _ in uniform() }
    table = (0..<rows * dim).map { index in centres[(index / dim % 20) * dim + index % dim] + 0.3 * uniform() }
  }

  /// Runs `mode` for query z with `k` slots, excluding `history` (exclude_history) and `excludedIDs`.
  func retrieve(_ manifestJSON: String, z: [Float], k: Int, history: [Int64] = [], excludedIDs: [Int64] = []) throws -> [(Int64, Float)] {
    try ids.withUnsafeBufferPointer { idBuffer in
      try table.withUnsafeBufferPointer { tableBuffer in
        let catalog = try Catalog(itemIDs: idBuffer)
        let retrieval = try CatalogRetrieval(
          manifest: try Manifest(json: manifestJSON), catalog: catalog, itemEmbedding: tableBuffer, dimension: dim)
        return try writeTop(retrieval, catalog: catalog, z: z, k: k, history: history, excludedIDs: excludedIDs)
      }
    }
  }

  func reference(z: [Float], k: Int, excluded: Set<Int64>) -> [(Int64, Float)] {
    let scored = (0..<rows).map { r in (ids[r], (0..<dim).reduce(Float(0)) { $0 + table[r * dim + $1] * z[$1] }) }
    return Array(scored.filter { !excluded.contains($0.0) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(k))
  }

  func testEveryModeFindsTheTopItemsWithExactScoresAndHonoursFilters() throws {
    let z = (0..<dim).map { Float(($0 * 7) % 5) - 2 }
    let unfiltered = reference(z: z, k: 40, excluded: [])
    let history = unfiltered[0..<5].map(\.0)
    let excludedIDs = unfiltered[5..<15].map(\.0) + [1, 999_999]  // ids outside the catalog are harmless
    let expected = reference(z: z, k: 10, excluded: Set(history + excludedIDs))
    let modes = [
      #"{"retrieval":"exact"}"#, #"{"retrieval":"quantized"}"#, #"{"retrieval":"quantized","retrieval_rerank":30}"#,
      #"{"retrieval":"approximate","retrieval_lists":30,"retrieval_probes":30}"#,  // every list: exact
      #"{"retrieval":"approximate","retrieval_lists":30,"retrieval_probes":8}"#,
    ]
    for manifest in modes {
      let got = try retrieve(manifest, z: z, k: 10, history: history, excludedIDs: excludedIDs)
      XCTAssertEqual(got.count, 10, manifest)
      XCTAssertTrue(Set(got.map(\.0)).isDisjoint(with: history + excludedIDs), manifest)
      let exactScores = Dictionary(uniqueKeysWithValues: reference(z: z, k: rows, excluded: []).map { ($0.0, $0.1) })
      for (id, score) in got { XCTAssertEqual(score, exactScores[id]!, accuracy: 1e-4, "\(manifest): item \(id)") }
      if manifest.contains("quantized") {  // a partial IVF probe's recall depends on the data: the bench measures it
        let recall = Double(Set(got.map(\.0)).intersection(expected.map(\.0)).count) / 10
        XCTAssertGreaterThanOrEqual(recall, 0.9, manifest)
      }
      if manifest.contains("exact") || manifest.contains("\"retrieval_probes\":30") {
        XCTAssertEqual(got.map(\.0), expected.map(\.0), manifest)
      }
    }
  }

  func testFiltersThatLeaveFewerItemsThanKReturnExactlyTheEligible() throws {
    let z = [Float](repeating: 0.5, count: dim)
    let eligible: Set<Int64> = [ids[0], ids[1234], ids[rows - 1]]
    let excluded = ids.filter { !eligible.contains($0) }
    for mode in ["exact", "quantized", "approximate"] {
      let got = try retrieve(#"{"retrieval":"\#(mode)"}"#, z: z, k: 10, excludedIDs: excluded)
      XCTAssertEqual(Set(got.map(\.0)), eligible, mode)
    }
  }

  func testBadRetrievalKeysAreRefusedWithTheKeyNamed() throws {
    for (json, text) in [
      (#"{"retrieval":"hnsw"}"#, #""retrieval" must be one of "exact", "quantized", "approximate""#),
      (#"{"retrieval":3}"#, #""retrieval" must be one of"#),
      (#"{"retrieval":"quantized","retrieval_rerank":0}"#, #""retrieval_rerank""#),
      (#"{"retrieval":"approximate","retrieval_lists":5000}"#, #""retrieval_lists" is 5000, more than the catalog's 3000 items"#),
      (#"{"retrieval":"approximate","retrieval_recall":1.5}"#, #""retrieval_recall" must be a number in 0.5...1.0"#),
      (#"{"retrieval":"approximate","retrieval_probes":0}"#, #""retrieval_probes""#),
    ] {
      XCTAssertThrowsError(try retrieve(json, z: [Float](repeating: 1, count: dim), k: 1), json) { error in
        XCTAssertTrue("\(error)".contains(text), "\(json): \(error)")
      }
    }
  }

  /// A catalog large enough that a lone call shares its scan with the helper thread (more than
  /// `sharedScanFloats` floats): the answer is exactly the single-core one, ties included.
  func useSharedScanCatalog() {
    rows = CatalogRetrieval.sharedScanFloats / dim * 3 + 123  // not a whole number of blocks
    XCTAssertGreaterThan(rows * dim, CatalogRetrieval.sharedScanFloats)
    ids = (0..<rows).map { 5_000 + 3 * Int64($0) }
    table = (0..<rows * dim).map { Float(($0 * 2_654_435_761) % 1000) * 1e-3 - 0.5 }
  }

  func testSharedScanEqualsTheReferenceWithFiltersInEveryScanMode() throws {
    useSharedScanCatalog()
    let z = (0..<dim).map { Float(($0 * 7) % 5) - 2 }
    let unfiltered = reference(z: z, k: 60, excluded: [])
    let history = unfiltered[0..<5].map(\.0)
    let excludedIDs = unfiltered[5..<15].map(\.0)
    let expected = reference(z: z, k: 25, excluded: Set(history + excludedIDs))
    let jobsBefore = recsys_second_core_jobs_run()
    for _ in 0..<20 {  // the helper wakes up late on a busy machine: over 20 calls it joins some
      let got = try retrieve(#"{"retrieval":"exact"}"#, z: z, k: 25, history: history, excludedIDs: excludedIDs)
      XCTAssertEqual(got.map(\.0), expected.map(\.0))
      let quantized = try retrieve(
        #"{"retrieval":"quantized","retrieval_rerank":200}"#, z: z, k: 25, history: history, excludedIDs: excludedIDs)
      XCTAssertEqual(quantized.count, 25)
      XCTAssertTrue(Set(quantized.map(\.0)).isDisjoint(with: history + excludedIDs))
    }
    XCTAssertGreaterThan(recsys_second_core_jobs_run(), jobsBefore, "the helper thread never took a share")
  }

  func testSharedScanBreaksTiesToTheLowerRowAndRanksNaNLast() throws {
    useSharedScanCatalog()
    // Every row scores the same except a few NaN rows and one row that beats the rest, placed in
    // blocks either thread may claim: ties must still go to the lowest rows, NaN after numbers.
    table = [Float](repeating: 0.25, count: rows * dim)
    let nanRows = [0, 1, rows / 2, rows - 1]
    for row in nanRows { table[row * dim] = .nan }
    let winner = rows - 2
    table[winner * dim] = 5
    let z = [Float](repeating: 1, count: dim)
    for _ in 0..<10 {
      let got = try retrieve(#"{"retrieval":"exact"}"#, z: z, k: 6)
      XCTAssertEqual(got.map(\.0), [winner, 2, 3, 4, 5, 6].map { ids[$0] })
      let all = try retrieve(#"{"retrieval":"exact"}"#, z: z, k: rows)
      XCTAssertEqual(all.count, rows)
      XCTAssertEqual(all.suffix(4).map(\.0), nanRows.map { ids[$0] }, "NaN rows last, lower row first")
    }
  }

  func testSecondCoreClaimsEveryItemOnceWhoeverRuns() {
    // Both threads claim from one counter: every item exactly once, whichever thread took it.
    final class Job {
      let next = UnsafeMutablePointer<Int>.allocate(capacity: 1)
      var claimedByHelper: [Int] = []
      deinit { next.deallocate() }
    }
    let job = Job()
    job.next.pointee = 0
    var mine: [Int] = []
    recsys_second_core_enter()
    let posted = recsys_second_core_start({ context in
      let job = Unmanaged<Job>.fromOpaque(UnsafeRawPointer(context!)).takeUnretainedValue()
      while true {
        let item = recsys_second_core_claim(job.next, 1)
        if item >= 10_000 { return }
        job.claimedByHelper.append(item)
      }
    }, Unmanaged.passUnretained(job).toOpaque())
    while true {
      let item = recsys_second_core_claim(job.next, 1)
      if item >= 10_000 { break }
      mine.append(item)
    }
    if posted != 0 { recsys_second_core_finish() }
    recsys_second_core_leave()
    XCTAssertEqual((mine + job.claimedByHelper).sorted(), Array(0..<10_000))
    // A second call while one is in flight gets no helper: it scans alone.
    recsys_second_core_enter()
    recsys_second_core_enter()
    XCTAssertEqual(recsys_second_core_start({ _ in XCTFail("the helper ran while two calls were in flight") }, nil), 0)
    recsys_second_core_leave()
    recsys_second_core_leave()
  }

  func testApproximateTunesItsProbesToTheTargetRecallUnlessModelJSONSetsThem() throws {
    try ids.withUnsafeBufferPointer { idBuffer in
      try table.withUnsafeBufferPointer { tableBuffer in
        let catalog = try Catalog(itemIDs: idBuffer)
        func retrieval(_ json: String) throws -> CatalogRetrieval {
          try CatalogRetrieval(manifest: Manifest(json: json), catalog: catalog, itemEmbedding: tableBuffer, dimension: dim)
        }
        let tuned = try retrieval(#"{"retrieval":"approximate","retrieval_lists":100}"#)
        let cap = CatalogRetrieval.maximumTunedProbes(lists: 100, rows: rows)
        XCTAssertEqual(cap, 100, "3000 rows are within the row budget: every list may be probed")
        XCTAssertTrue((tuned.tunedRecall ?? 0) >= CatalogRetrieval.defaultTargetRecall || tuned.probes == cap)
        XCTAssertGreaterThan(tuned.probes, 1)
        let stricter = try retrieval(#"{"retrieval":"approximate","retrieval_lists":100,"retrieval_recall":1.0}"#)
        XCTAssertGreaterThanOrEqual(stricter.probes, tuned.probes)
        let given = try retrieval(#"{"retrieval":"approximate","retrieval_lists":100,"retrieval_probes":3}"#)
        XCTAssertEqual(given.probes, 3)
        XCTAssertNil(given.tunedRecall)
        XCTAssertNil(try retrieval(#"{"retrieval":"exact"}"#).tunedRecall)
      }
    }
  }

  func testTheTunedProbeCapKeepsACallWithinTheRowBudget() {
    // 5 million rows in 4472 lists: 1118 rows a list, so 117 lists fit in 131072 rows.
    XCTAssertEqual(CatalogRetrieval.maximumTunedProbes(lists: 4472, rows: 5_000_000), 117)
    XCTAssertEqual(CatalogRetrieval.maximumTunedProbes(lists: 2000, rows: 1_000_000), 262)
    XCTAssertEqual(CatalogRetrieval.maximumTunedProbes(lists: 10, rows: 100_000_000), 1)
  }
}

/// The exact mode's int8 pre-pass (`retrieval_prefilter` "int8") against the plain scan ("off"):
/// the same items and the same score bits, for random and adversarial tables, every k, with and
/// without exclusions, and queries that need the fallback.
final class CatalogPrefilterTests: XCTestCase {
  /// A catalog of `rows` x `dim` with one retrieval per prefilter setting.
  struct Fixture {
    let rows: Int, dim: Int
    let ids: [Int64]
    let table: UnsafeMutableBufferPointer<Float>
    let idBuffer: UnsafeMutableBufferPointer<Int64>  // the catalog reads it in place
    let catalog: Catalog
    let prefiltered: CatalogRetrieval
    let plain: CatalogRetrieval

    init(_ values: [Float], rows: Int, dim: Int, extraJSON: String = "") throws {
      (self.rows, self.dim) = (rows, dim)
      ids = (0..<rows).map { 100 + 7 * Int64($0) }
      table = .allocate(capacity: max(values.count, 1))
      _ = table.initialize(from: values)
      idBuffer = .allocate(capacity: max(rows, 1))
      _ = idBuffer.initialize(from: ids)
      catalog = try Catalog(itemIDs: UnsafeBufferPointer(rebasing: idBuffer[0..<rows]))
      let items = UnsafeBufferPointer(rebasing: table[0..<values.count])
      prefiltered = try CatalogRetrieval(
        manifest: Manifest(json: #"{"retrieval":"exact","retrieval_prefilter":"int8"\#(extraJSON)}"#), catalog: catalog,
        itemEmbedding: items, dimension: dim)
      plain = try CatalogRetrieval(
        manifest: Manifest(json: #"{"retrieval":"exact","retrieval_prefilter":"off"}"#), catalog: catalog,
        itemEmbedding: items, dimension: dim)
    }

    /// Top `k` for `z`, excluding `excludedIDs`, as (id, score bits).
    func top(_ retrieval: CatalogRetrieval, z: [Float], k: Int, excludedIDs: [Int64]) throws -> [(Int64, UInt32)] {
      try writeTop(retrieval, catalog: catalog, z: z, k: k, excludedIDs: excludedIDs).map { ($0.0, $0.1.bitPattern) }
    }

    /// Asserts the pre-pass returns exactly the plain scan's ids and score bits.
    func assertSame(z: [Float], k: Int, excludedIDs: [Int64] = [], _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
      let expected = try top(plain, z: z, k: k, excludedIDs: excludedIDs)
      let got = try top(prefiltered, z: z, k: k, excludedIDs: excludedIDs)
      XCTAssertEqual(got.map(\.0), expected.map(\.0), "\(label): ids", file: file, line: line)
      XCTAssertEqual(got.map(\.1), expected.map(\.1), "\(label): score bits", file: file, line: line)
    }

    func release() {
      table.deallocate()
      idBuffer.deallocate()
    }
  }

  struct Random {
    var state: UInt64
    mutating func uniform() -> Float {  // SplitMix64, [-1, 1)
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return Float((z ^ (z >> 31)) >> 40) / Float(1 << 23) - 1
    }
    mutating func below(_ n: Int) -> Int { Int((uniform() + 1) / 2 * Float(n)) % max(n, 1) }
  }

  func testPrefilterEqualsThePlainScanBitForBitOnRandomTables() throws {
    let rowsBefore = recsys_scan_prefilter_rows_rescored()
    var scannedRows = 0
    for seed in [1, 2, 3] as [UInt64] {
      var random = Random(state: seed)
      for dim in [16, 32, 64, 100, 128] {
        for rows in [1, 15, 17, 300, 4097, 9000, 20000] where rows * dim <= 20000 * 64 || seed == 1 {
          // Clustered rows (near-ties inside a cluster) for even seeds, plain noise otherwise.
          let clusters = seed == 2 ? 30 : rows
          let centres = (0..<min(clusters, 30) * dim).map { _ in random.uniform() }
          let values = (0..<rows * dim).map { i in
            (clusters < rows ? centres[(i / dim % 30) * dim + i % dim] : 0) + (clusters < rows ? 0.05 : 1) * random.uniform()
          }
          let fixture = try Fixture(values, rows: rows, dim: dim)
          defer { fixture.release() }
          XCTAssertTrue(fixture.prefiltered.prefiltered)
          XCTAssertFalse(fixture.plain.prefiltered)
          let z = (0..<dim).map { _ in 3 * random.uniform() }
          let someExcluded = fixture.ids.filter { _ in random.uniform() < -0.8 }  // about 10 %
          let mostExcluded = Array(fixture.ids.dropLast(min(7, rows)).filter { _ in random.uniform() < 0.98 })
          for k in [1, 10, 100, rows, rows + 5] {
            for excluded in [[], someExcluded, mostExcluded] {
              try fixture.assertSame(z: z, k: k, excludedIDs: excluded, "seed \(seed) d=\(dim) n=\(rows) k=\(k) excluded \(excluded.count)")
              if k == 10 && excluded.isEmpty { scannedRows += rows }
            }
          }
        }
      }
    }
    // The pre-pass must actually skip rows (not just fall back): all calls together re-scored far
    // fewer rows than the k = 10 calls alone would have scanned (k = N calls re-score everything).
    let rescored = recsys_scan_prefilter_rows_rescored() - rowsBefore
    XCTAssertGreaterThan(rescored, 0)
    print("prefilter: \(rescored) rows re-scored over all calls; the k = 10 unfiltered calls alone cover \(scannedRows)")
  }

  func testPrefilterSkipsMostRowsOfATypicalTable() throws {
    var random = Random(state: 7)
    let rows = 50_000, dim = 64
    let fixture = try Fixture((0..<rows * dim).map { _ in random.uniform() }, rows: rows, dim: dim)
    defer { fixture.release() }
    var total = 0
    for call in 0..<20 {
      let z = (0..<dim).map { _ in random.uniform() }
      let before = recsys_scan_prefilter_rows_rescored()
      _ = try fixture.top(fixture.prefiltered, z: z, k: 10, excludedIDs: [])
      total += recsys_scan_prefilter_rows_rescored() - before
      try fixture.assertSame(z: z, k: 10, "call \(call)")
    }
    print("prefilter: \(total / 20) of \(rows) rows re-scored per call (uniform table, d 64, k 10)")
    XCTAssertLessThan(total / 20, rows / 10, "the pre-pass re-scored more than a tenth of the table")
  }

  func testPrefilterEqualsThePlainScanOnAdversarialTables() throws {
    var random = Random(state: 11)
    let rows = 9000, dim = 64
    let identical = (0..<rows * dim).map { Float(($0 % dim) % 5) * 0.1 - 0.2 }
    var mostlyIdentical = identical
    for r in stride(from: 5, to: rows, by: 997) { mostlyIdentical[r * dim] += 0.5 }
    var zeroRows = (0..<rows * dim).map { _ in random.uniform() }
    for r in 0..<rows where r % 3 != 0 { for j in 0..<dim { zeroRows[r * dim + j] = 0 } }
    var spiky = (0..<rows * dim).map { _ in random.uniform() * 1e-6 }
    for r in 0..<rows { spiky[r * dim + r % dim] = Float(r % 17) * (r % 2 == 0 ? 1e5 : -1e5) }
    var nonFinite = (0..<rows * dim).map { _ in random.uniform() }
    for (r, value) in [(0, Float.nan), (4100, .infinity), (8999, -.infinity), (17, .nan)] { nonFinite[r * dim + 3] = value }
    let huge = (0..<rows * dim).map { _ in random.uniform() * 1e30 }  // scores may overflow: the fallback
    let zRandom = (0..<dim).map { _ in random.uniform() }
    let zWide = (0..<dim).map { j -> Float in j % 3 == 0 ? 1e20 : (j % 3 == 1 ? 1e-20 : -3e10) }
    let zTiny = (0..<dim).map { _ in random.uniform() * 1e-30 }
    let zZero = [Float](repeating: 0, count: dim)
    var zNaN = zRandom
    zNaN[5] = .nan
    var zInf = zRandom
    zInf[9] = -.infinity
    let zBig = zRandom.map { $0 * 1e10 }
    for (name, values) in [
      ("identical", identical), ("mostly identical", mostlyIdentical), ("zero rows", zeroRows), ("spiky", spiky),
      ("non-finite", nonFinite), ("huge", huge),
    ] {
      let fixture = try Fixture(values, rows: rows, dim: dim)
      defer { fixture.release() }
      for (zName, z) in [("random", zRandom), ("wide", zWide), ("tiny", zTiny), ("zero", zZero), ("NaN", zNaN), ("inf", zInf), ("big", zBig)] {
        for k in [1, 10, 100, rows + 1] {
          try fixture.assertSame(z: z, k: k, "\(name) x \(zName) k=\(k)")
          try fixture.assertSame(z: z, k: k, excludedIDs: Array(fixture.ids[0..<500]), "\(name) x \(zName) k=\(k) excluding")
        }
      }
    }
  }

  func testSharedPrefilteredScanEqualsTheSingleCoreOne() throws {
    // More than sharedPrefilterBytes of codes: a lone call offers a share to the helper thread.
    let dim = 32, rows = CatalogRetrieval.sharedPrefilterBytes / dim + 123
    var random = Random(state: 5)
    let fixture = try Fixture((0..<rows * dim).map { _ in random.uniform() }, rows: rows, dim: dim)
    defer { fixture.release() }
    let jobsBefore = recsys_second_core_jobs_run()
    for call in 0..<20 {
      let z = (0..<dim).map { _ in random.uniform() }
      try fixture.assertSame(z: z, k: 25, excludedIDs: Array(fixture.ids[100..<400]), "call \(call)")
    }
    XCTAssertGreaterThan(recsys_second_core_jobs_run(), jobsBefore, "the helper thread never took a share")
  }

  func testPrefilterKeyIsReadCheckedAndCounted() throws {
    let rows = 1000, dim = 16
    let fixture = try Fixture([Float](repeating: 0.5, count: rows * dim), rows: rows, dim: dim)
    defer { fixture.release() }
    let items = UnsafeBufferPointer(rebasing: fixture.table[0..<rows * dim])
    func retrieval(_ json: String) throws -> CatalogRetrieval {
      try CatalogRetrieval(manifest: Manifest(json: json), catalog: fixture.catalog, itemEmbedding: items, dimension: dim)
    }
    XCTAssertTrue(try retrieval(#"{}"#).prefiltered, "auto: on for a small table")
    XCTAssertTrue(try retrieval(#"{"retrieval_prefilter":"auto"}"#).prefiltered)
    XCTAssertFalse(try retrieval(#"{"retrieval_prefilter":"off"}"#).prefiltered)
    XCTAssertFalse(try retrieval(#"{"retrieval":"quantized","retrieval_prefilter":"int8"}"#).prefiltered, "exact only")
    XCTAssertEqual(try retrieval(#"{"retrieval_prefilter":"int8"}"#).indexByteCount, rows * dim + 12 * rows)
    XCTAssertEqual(try retrieval(#"{"retrieval_prefilter":"off"}"#).indexByteCount, 0)
    // auto: off past 64 MiB of fp32 table (the docs' 1M/5M figures were measured without it).
    let bigDim = 64, bigRows = CatalogRetrieval.autoPrefilterTableBytes / (4 * bigDim) + 1
    let bigTable = UnsafeMutableBufferPointer<Float>.allocate(capacity: bigRows * bigDim)
    bigTable.initialize(repeating: 0.5)
    defer { bigTable.deallocate() }
    let bigIDs = (0..<bigRows).map { Int64($0) }
    try bigIDs.withUnsafeBufferPointer { idBuffer in
      let catalog = try Catalog(itemIDs: idBuffer)
      XCTAssertFalse(try CatalogRetrieval(
        manifest: Manifest(json: #"{}"#), catalog: catalog, itemEmbedding: UnsafeBufferPointer(bigTable), dimension: bigDim
      ).prefiltered)
    }
    for json in [#"{"retrieval_prefilter":"fast"}"#, #"{"retrieval_prefilter":1}"#] {
      XCTAssertThrowsError(try retrieval(json), json) { error in
        XCTAssertTrue("\(error)".contains(#""retrieval_prefilter" must be one of "auto", "int8", "off""#), "\(json): \(error)")
      }
    }
  }
}

/// `retrieval.writeTop` for query z with `k` slots through a real request: `history` excluded
/// (exclude_history) and `excludedIDs` as one excluded set. (id, score) best first.
func writeTop(
  _ retrieval: CatalogRetrieval, catalog: Catalog, z: [Float], k: Int, history: [Int64] = [], excludedIDs: [Int64] = []
) throws -> [(Int64, Float)] {
  var itemIDs = [Int64](repeating: 0, count: k)
  var scores = [Float](repeating: 0, count: k)
  var propensities = [Float](repeating: 0, count: k)
  let sortedExcluded = excludedIDs.sorted()
  let types = [Int32](repeating: 0, count: history.count)
  return try history.withUnsafeBufferPointer { historyBuffer in
    try types.withUnsafeBufferPointer { typeBuffer in
      try sortedExcluded.withUnsafeBufferPointer { excludedBuffer in
        var set = recsys_item_set(item_ids: excludedBuffer.baseAddress, count: excludedBuffer.count)
        return try withUnsafePointer(to: &set) { setPointer in
          var raw = recsys_request()
          raw.history_item_ids = historyBuffer.baseAddress
          raw.history_types = typeBuffer.baseAddress
          raw.history_count = history.count
          raw.top_k = UInt32(k)
          raw.exclude_history = history.isEmpty ? 0 : 1
          raw.excluded_sets = sortedExcluded.isEmpty ? nil : setPointer
          raw.excluded_set_count = sortedExcluded.isEmpty ? 0 : 1
          let request = Request(raw)
          return try itemIDs.withUnsafeMutableBufferPointer { i in
            try scores.withUnsafeMutableBufferPointer { s in
              try propensities.withUnsafeMutableBufferPointer { p in
                var result = recsys_result(
                  item_ids: i.baseAddress, scores: s.baseAddress, propensities: p.baseAddress, capacity: k, count: 0,
                  unknown_item_ids: nil, unknown_count: 0)
                try withUnsafeMutablePointer(to: &result) { resultPointer in
                  var recommendations = Recommendations(resultPointer)
                  try z.withUnsafeBufferPointer { zBuffer in
                    try retrieval.writeTop(
                      userVector: zBuffer, request: request, excluding: ExclusionSet(request, catalog: catalog),
                      into: &recommendations)
                  }
                }
                return (0..<result.count).map { (i[$0], s[$0]) }
              }
            }
          }
        }
      }
    }
  }
}

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
        var itemIDs = [Int64](repeating: 0, count: k)
        var scores = [Float](repeating: 0, count: k)
        var propensities = [Float](repeating: 0, count: k)
        let sortedExcluded = excludedIDs.sorted()
        return try history.withUnsafeBufferPointer { historyBuffer in
          try sortedExcluded.withUnsafeBufferPointer { excludedBuffer in
            var set = recsys_item_set(item_ids: excludedBuffer.baseAddress, count: excludedBuffer.count)
            let types = [Int32](repeating: 0, count: history.count)
            return try types.withUnsafeBufferPointer { typeBuffer in
              var raw = recsys_request()
              raw.history_item_ids = historyBuffer.baseAddress
              raw.history_types = typeBuffer.baseAddress
              raw.history_count = history.count
              raw.top_k = UInt32(k)
              raw.exclude_history = history.isEmpty ? 0 : 1
              return try withUnsafePointer(to: &set) { setPointer in
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

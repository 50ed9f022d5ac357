import CRecSysPlugin
import PluginAPI
import XCTest

/// The retrieval modes against a plain reference (every row's fp32 dot product, sorted, filters
/// applied): exact and an IVF probing every list equal it, quantized finds nearly the same items,
/// every mode returns exact scores and honours the ExclusionSet with top-k filled.
final class CatalogRetrievalTests: XCTestCase {
  let rows = 3000, dim = 16
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
    ] {
      XCTAssertThrowsError(try retrieve(json, z: [Float](repeating: 1, count: dim), k: 1), json) { error in
        XCTAssertTrue("\(error)".contains(text), "\(json): \(error)")
      }
    }
  }
}

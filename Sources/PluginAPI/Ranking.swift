import RecSysKernels

/// Turns a score vector into the result's best-first list, through the one top-k kernel, leaving
/// out what the request's `ExclusionSet` excludes.
public enum Ranking {
  /// `scores[j]` belongs to the j-th known candidate, whose catalog row is `rows[j]`.
  /// Ties go to the earlier candidate.
  public static func writeTopCandidates(
    scores: UnsafeBufferPointer<Float>, rows: [Int32], catalog: Catalog,
    excluding exclusion: ExclusionSet, into result: inout Recommendations
  ) {
    rows.withUnsafeBufferPointer { rows in
      write(scores: scores, excluding: { exclusion.excludes(row: rows[Int($0)]) }, into: &result) {
        catalog.itemIDs[Int(rows[$0])]
      }
    }
  }

  /// `scores[r]` belongs to catalog row r. Ties go to the lower row.
  public static func writeTopCatalog(
    scores: UnsafeBufferPointer<Float>, catalog: Catalog, excluding exclusion: ExclusionSet,
    into result: inout Recommendations
  ) {
    write(scores: scores, excluding: { exclusion.excludes(row: $0) }, into: &result) { catalog.itemIDs[$0] }
  }

  private static func write(
    scores: UnsafeBufferPointer<Float>, excluding excluded: (Int32) -> Bool,
    into result: inout Recommendations, itemID: (Int) -> Int64
  ) {
    let k = min(result.capacity, scores.count)
    guard k > 0 else { return }
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: k) { best in
      let found = Kernels.topK(scores: scores, k: k, into: best, excluded: excluded)
      for slot in 0..<found {
        let index = Int(best[slot])
        result.append(itemID: itemID(index), score: scores[index])
      }
    }
  }
}

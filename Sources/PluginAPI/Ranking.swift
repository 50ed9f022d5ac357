import RecSysKernels

/// Turns a score vector into the result's best-first list, through the one top-k kernel.
public enum Ranking {
  /// `scores[j]` belongs to the j-th known candidate, whose catalog row is `rows[j]`.
  /// Items whose row is in `excludedRows` are left out. Ties go to the earlier candidate.
  public static func writeTopCandidates(
    scores: UnsafeBufferPointer<Float>, rows: [Int32], catalog: Catalog,
    excludedRows: [Int32], into result: inout Recommendations
  ) {
    var excludedPositions: [Int32] = []
    if !excludedRows.isEmpty {
      for (position, row) in rows.enumerated() where excludedRows.contains(row) {
        excludedPositions.append(Int32(position))
      }
    }
    write(scores: scores, excluding: excludedPositions, into: &result) { catalog.itemIDs[Int(rows[$0])] }
  }

  /// `scores[r]` belongs to catalog row r. Ties go to the lower row.
  public static func writeTopCatalog(
    scores: UnsafeBufferPointer<Float>, catalog: Catalog, excludedRows: [Int32],
    into result: inout Recommendations
  ) {
    write(scores: scores, excluding: excludedRows, into: &result) { catalog.itemIDs[$0] }
  }

  private static func write(
    scores: UnsafeBufferPointer<Float>, excluding excluded: [Int32],
    into result: inout Recommendations, itemID: (Int) -> Int64
  ) {
    let k = min(result.capacity, scores.count)
    guard k > 0 else { return }
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: k) { best in
      let found = excluded.withUnsafeBufferPointer { excludedBuffer in
        Kernels.topK(scores: scores, k: k, excluding: excludedBuffer.isEmpty ? nil : excludedBuffer, into: best)
      }
      for slot in 0..<found {
        let index = Int(best[slot])
        result.append(itemID: itemID(index), score: scores[index])
      }
    }
  }
}

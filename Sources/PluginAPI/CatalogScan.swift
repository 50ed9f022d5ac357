import CRecSysScan
import RecSysKernels

/// The whole-catalog scan of `exact` and `quantized`: every row scored block by block and streamed
/// into a running top-k, on both cores when the other one is free (recsys_second_core.h).
///
/// Shared: the caller and the helper thread claim blocks from one counter, each keeps its own
/// top-k (blocks reach each heap in ascending row order, as RunningTopK needs), and the two lists
/// are merged. The order (score, then lower row, NaN last) is total, so the merge gives exactly
/// the answer of one core.
extension CatalogRetrieval {
  /// Table floats from which a lone call offers its scan to the other core: 1 << 18 floats (1 MiB,
  /// one block of 4096 rows at d = 64; the helper can only help with a second block). One block
  /// scans in about 25-50 µs, the helper's wake-up takes tens of µs: below this the hand-off
  /// costs more than it can save.
  public static let sharedScanFloats = 1 << 18

  /// A scorer of `rows` rows from `firstRow` into `output` (a block of the table).
  typealias BlockScorer = (_ firstRow: Int, _ rows: Int, _ output: UnsafeMutableBufferPointer<Float>) -> Void

  /// Scans the whole catalog with `score`, keeping the best `k` eligible rows, and hands `found`
  /// their rows and scores, best first.
  func withBestOfCatalog(
    _ k: Int, _ request: Request, _ exclusion: ExclusionSet, score: BlockScorer,
    found: (UnsafeMutableBufferPointer<Int32>, UnsafeBufferPointer<Float>) -> Void
  ) throws {
    guard k > 0 else { return }
    guard catalog.count * dimension >= Self.sharedScanFloats else {
      var next = 0
      try withBest(k, found) { best in try scan(claiming: &next, request, exclusion, into: &best, score: score) }
      return
    }
    recsys_second_core_enter()
    defer { recsys_second_core_leave() }
    try withUnsafeTemporaryAllocation(of: Int32.self, capacity: k) { helperRows in
      try withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { helperScores in
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: 1) { next in
        try withoutActuallyEscaping(score) { score in
          next[0] = 0
          let share = HelperShare(
            retrieval: self, k: k, request: request, exclusion: exclusion, score: score, next: next.baseAddress!,
            resultRows: helperRows, resultScores: helperScores)
          let posted = recsys_second_core_start(helperShareJob, Unmanaged.passUnretained(share).toOpaque()) != 0
          var closed = !posted
          defer { if !closed { recsys_second_core_finish() } }
          try withBest(k, { rows, scores in
            if !closed {
              recsys_second_core_finish()
              closed = true
            }
            Self.merge(
              rows, scores, UnsafeMutableBufferPointer(rebasing: helperRows[0..<share.count]),
              UnsafeBufferPointer(rebasing: helperScores[0..<share.count]), k: k, found: found)
          }) { best in
            try scan(claiming: next.baseAddress!, request, exclusion, into: &best, score: score)
          }
        }
        }
      }
    }
  }

  /// Runs `fill` with a running top-`k` in temporary buffers, then hands `found` its rows and
  /// scores, best first.
  func withBest(
    _ k: Int, _ found: (UnsafeMutableBufferPointer<Int32>, UnsafeBufferPointer<Float>) -> Void,
    _ fill: (inout Kernels.RunningTopK) throws -> Void
  ) throws {
    guard k > 0 else { return }
    try withUnsafeTemporaryAllocation(of: Int32.self, capacity: k) { rows in
      try withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { scores in
        var best = Kernels.RunningTopK(k: k, rows: rows, scores: scores)
        try fill(&best)
        let count = best.finish()
        found(UnsafeMutableBufferPointer(rebasing: rows[0..<count]), UnsafeBufferPointer(rebasing: scores[0..<count]))
      }
    }
  }

  /// Claims blocks of `blockRows` rows from `next` (shared with the other core, or not) until none
  /// is left, scores each with `score` into this thread's block buffer and offers it; the cancel
  /// flag is checked between blocks.
  func scan(
    claiming next: UnsafeMutablePointer<Int>, _ request: Request, _ exclusion: ExclusionSet,
    into best: inout Kernels.RunningTopK, score: BlockScorer
  ) throws {
    let count = catalog.count
    try withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.blockRows) { block in
      while true {
        if request.isCancelled { throw ModelError.cancelled }
        let start = recsys_second_core_claim(next, Self.blockRows)
        if start >= count { return }
        let rows = min(Self.blockRows, count - start)
        let output = UnsafeMutableBufferPointer(rebasing: block[0..<rows])
        score(start, rows, output)
        if exclusion.isEmpty {
          best.offer(UnsafeBufferPointer(output), firstRow: start, excluded: { _ in false })
        } else {
          best.offer(UnsafeBufferPointer(output), firstRow: start, excluded: { exclusion.excludes(row: $0) })
        }
      }
    }
  }

  /// The best `k` of two best-first lists (RunningTopK's order: higher score, then lower row, NaN
  /// below every number).
  static func merge(
    _ aRows: UnsafeMutableBufferPointer<Int32>, _ aScores: UnsafeBufferPointer<Float>,
    _ bRows: UnsafeMutableBufferPointer<Int32>, _ bScores: UnsafeBufferPointer<Float>, k: Int,
    found: (UnsafeMutableBufferPointer<Int32>, UnsafeBufferPointer<Float>) -> Void
  ) {
    let total = min(k, aRows.count + bRows.count)
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: max(total, 1)) { rows in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: max(total, 1)) { scores in
        var a = 0, b = 0
        for slot in 0..<total {
          let takeA = b == bRows.count || (a < aRows.count && ranksAbove(aScores[a], aRows[a], bScores[b], bRows[b]))
          if takeA {
            (rows[slot], scores[slot]) = (aRows[a], aScores[a])
            a += 1
          } else {
            (rows[slot], scores[slot]) = (bRows[b], bScores[b])
            b += 1
          }
        }
        found(UnsafeMutableBufferPointer(rebasing: rows[0..<total]), UnsafeBufferPointer(rebasing: scores[0..<total]))
      }
    }
  }

  /// (sa, a) before (sb, b): higher score, NaN last, ties to the lower row.
  @inline(__always)
  static func ranksAbove(_ sa: Float, _ a: Int32, _ sb: Float, _ b: Int32) -> Bool {
    if sa.isNaN { return sb.isNaN && a < b }
    if sb.isNaN { return true }
    return sa != sb ? sa > sb : a < b
  }
}

/// What the helper thread needs for its share of a scan, and its result.
private final class HelperShare {
  let retrieval: CatalogRetrieval
  let k: Int
  let request: Request
  let exclusion: ExclusionSet
  let score: CatalogRetrieval.BlockScorer
  let resultRows: UnsafeMutableBufferPointer<Int32>
  let resultScores: UnsafeMutableBufferPointer<Float>
  /// The first row no thread has claimed yet (claimed atomically by both threads).
  let next: UnsafeMutablePointer<Int>
  /// Rows the helper kept (0 if it never ran).
  var count = 0

  init(
    retrieval: CatalogRetrieval, k: Int, request: Request, exclusion: ExclusionSet,
    score: @escaping CatalogRetrieval.BlockScorer, next: UnsafeMutablePointer<Int>, resultRows: UnsafeMutableBufferPointer<Int32>,
    resultScores: UnsafeMutableBufferPointer<Float>
  ) {
    self.retrieval = retrieval
    self.k = k
    self.request = request
    self.exclusion = exclusion
    self.score = score
    self.next = next
    self.resultRows = resultRows
    self.resultScores = resultScores
  }

  func run() {
    var best = Kernels.RunningTopK(k: k, rows: resultRows, scores: resultScores)
    // A cancelled call stops claiming; the caller sees the flag too and throws.
    try? retrieval.scan(claiming: next, request, exclusion, into: &best, score: score)
    count = best.finish()
  }
}

private let helperShareJob: @convention(c) (UnsafeMutableRawPointer?) -> Void = { context in
  Unmanaged<HelperShare>.fromOpaque(UnsafeRawPointer(context!)).takeUnretainedValue().run()
}

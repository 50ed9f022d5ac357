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
  /// The same for the exact mode's int8 pre-pass, in bytes of int8 codes: it reads about a third
  /// of the bytes, and the hand-off did not pay at 50k rows (d 64 and 128: 151 µs a call alone,
  /// 158 shared, sasrec; lstm alike) but did at 200k of d 64 (662 -> 555 µs, lstm): 8 MiB.
  public static let sharedPrefilterBytes = 1 << 23

  /// A scorer of `rows` rows from `firstRow` into `output` (a block of the table).
  typealias BlockScorer = (_ firstRow: Int, _ rows: Int, _ output: UnsafeMutableBufferPointer<Float>) -> Void
  /// One thread's share of a scan: claims blocks from `next` until none is left, offering rows to
  /// `best` in ascending order.
  typealias ShareScan = (_ next: UnsafeMutablePointer<Int>, _ best: inout Kernels.RunningTopK) throws -> Void

  /// Scans the whole catalog with `score`, keeping the best `k` eligible rows, and hands `found`
  /// their rows and scores, best first.
  func withBestOfCatalog(
    _ k: Int, _ request: Request, _ exclusion: ExclusionSet, score: BlockScorer,
    found: (UnsafeMutableBufferPointer<Int32>, UnsafeBufferPointer<Float>) -> Void
  ) throws {
    try withBestOfCatalog(k, sharingFrom: Self.sharedScanFloats, scanning: { next, best in
      try scan(claiming: next, request, exclusion, into: &best, score: score)
    }, found: found)
  }

  /// The same with each thread's share scanned by `scanning` (the prefiltered exact scan's),
  /// shared from `sharingFrom` table elements (N x d).
  func withBestOfCatalog(
    _ k: Int, sharingFrom elements: Int, scanning: ShareScan,
    found: (UnsafeMutableBufferPointer<Int32>, UnsafeBufferPointer<Float>) -> Void
  ) throws {
    guard k > 0 else { return }
    guard catalog.count * dimension >= elements else {
      var next = 0
      try withBest(k, found) { best in try scanning(&next, &best) }
      return
    }
    recsys_second_core_enter()
    defer { recsys_second_core_leave() }
    try withUnsafeTemporaryAllocation(of: Int32.self, capacity: k) { helperRows in
      try withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { helperScores in
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: 1) { next in
        try withoutActuallyEscaping(scanning) { scanning in
          next[0] = 0
          let share = HelperShare(
            k: k, scanning: scanning, next: next.baseAddress!, resultRows: helperRows, resultScores: helperScores)
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
            try scanning(next.baseAddress!, &best)
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
        Self.offer(UnsafeBufferPointer(output), firstRow: start, exclusion, to: &best)
      }
    }
  }

  /// What a prefiltered call's threads share: z, its int8 codes and the bound's query terms.
  struct PrefilterQuery {
    let z: UnsafeBufferPointer<Float>  // [d]
    let codes: UnsafeBufferPointer<Int8>  // [d]
    let scale: Float
    let norm: Float
    let residualNorm: Float
  }

  /// `scan(claiming:)` for the exact mode with its int8 pre-pass: per block, bounds on every
  /// row's fp32 score (`Kernels.int8ScoreBounds`); only rows whose upper bound reaches the
  /// threshold are re-scored in fp32 (with the bits the plain scan of the block gives them:
  /// `scanDotProducts(ofRows:)`) and offered. The threshold is
  /// the larger of what the final k-th score provably reaches: the k-th best exact score kept (a
  /// row below it cannot enter) and the k-th best lower bound of the eligible rows seen (k rows
  /// score at least that). A row whose upper bound is below it scores below k others, so the
  /// kept rows are those of the plain scan. A block with too many candidates (ties, a weak bound)
  /// is scored whole, as the plain scan does.
  func scanPrefiltered(
    claiming next: UnsafeMutablePointer<Int>, _ request: Request, _ exclusion: ExclusionSet, _ query: PrefilterQuery,
    into best: inout Kernels.RunningTopK
  ) throws {
    let count = catalog.count, k = best.capacity, d = dimension
    var rescored = 0
    defer { recsys_scan_prefilter_count(0, rescored) }
    try withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.blockRows) { upper in
      try withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.blockRows) { lower in
        try withUnsafeTemporaryAllocation(of: Int32.self, capacity: Self.blockRows) { candidates in
          try withUnsafeTemporaryAllocation(of: Int32.self, capacity: k) { lowerRows in
            try withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { lowerScores in
              var lowerBest = Kernels.RunningTopK(k: k, rows: lowerRows, scores: lowerScores)
              // Scores rows [first, end) in fp32 (into `lower`, spent by then) and offers them.
              func scoreExactly(_ first: Int, _ end: Int) {
                let scores = UnsafeMutableBufferPointer(rebasing: lower[0..<(end - first)])
                Kernels.scanDotProducts(
                  matrix: UnsafeBufferPointer(rebasing: itemEmbedding[(first * d)..<(end * d)]), query: query.z,
                  rows: end - first, dim: d, output: scores, cached: tableStaysInCache)
                Self.offer(UnsafeBufferPointer(scores), firstRow: first, exclusion, to: &best)
                rescored += end - first
              }
              while true {
                if request.isCancelled { throw ModelError.cancelled }
                let start = recsys_second_core_claim(next, Self.blockRows)
                if start >= count { return }
                let rows = min(Self.blockRows, count - start)
                Kernels.int8ScoreBounds(
                  quantized: UnsafeBufferPointer(rebasing: quantizedRows[(start * d)..<((start + rows) * d)]),
                  scales: UnsafeBufferPointer(rebasing: rowScales[start..<start + rows]),
                  residualNorms: UnsafeBufferPointer(rebasing: residualNorms[start..<start + rows]),
                  codeNorms: UnsafeBufferPointer(rebasing: codeNorms[start..<start + rows]),
                  query: query.codes, queryScale: query.scale, queryNorm: query.norm,
                  queryResidualNorm: query.residualNorm, rows: rows, dim: d, cached: tableStaysInCache,
                  upper: UnsafeMutableBufferPointer(rebasing: upper[0..<rows]),
                  lower: UnsafeMutableBufferPointer(rebasing: lower[0..<rows]))
                // Once k exact scores are kept, they already reach the k-th lower bound of the rows
                // before (those rows were offered, or their upper bounds were below the threshold):
                // only the first blocks need the lower bounds, the rest would pay for nothing.
                if best.count < k {
                  Self.offer(UnsafeBufferPointer(rebasing: lower[0..<rows]), firstRow: start, exclusion, to: &lowerBest)
                }
                let selected = Kernels.positions(
                  of: UnsafeBufferPointer(rebasing: upper[0..<rows]), notBelow: max(lowerBest.worstKept, best.worstKept),
                  into: candidates)
                // Many candidates (ties, a weak bound): the plain scan of the block costs less.
                if selected * 8 > rows {
                  scoreExactly(start, start + rows)
                  continue
                }
                let block = UnsafeBufferPointer(rebasing: itemEmbedding[(start * d)..<((start + rows) * d)])
                Kernels.scanDotProducts(
                  ofRows: UnsafeBufferPointer(rebasing: candidates[0..<selected]), inBlock: block, query: query.z,
                  rows: rows, dim: d, output: UnsafeMutableBufferPointer(rebasing: lower[0..<selected]))
                for slot in 0..<selected {
                  Self.offer(
                    UnsafeBufferPointer(rebasing: lower[slot..<slot + 1]), firstRow: start + Int(candidates[slot]), exclusion,
                    to: &best)
                }
                rescored += selected
              }
            }
          }
        }
      }
    }
  }

  /// Offers `scores` (rows from `firstRow`) to `best`, leaving out the excluded rows.
  @inline(__always)
  static func offer(
    _ scores: UnsafeBufferPointer<Float>, firstRow: Int, _ exclusion: ExclusionSet, to best: inout Kernels.RunningTopK
  ) {
    if exclusion.isEmpty {
      best.offer(scores, firstRow: firstRow, excluded: { _ in false })
    } else {
      best.offer(scores, firstRow: firstRow, excluded: { exclusion.excludes(row: $0) })
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
  let k: Int
  let scanning: CatalogRetrieval.ShareScan
  let resultRows: UnsafeMutableBufferPointer<Int32>
  let resultScores: UnsafeMutableBufferPointer<Float>
  /// The first row no thread has claimed yet (claimed atomically by both threads).
  let next: UnsafeMutablePointer<Int>
  /// Rows the helper kept (0 if it never ran).
  var count = 0

  init(
    k: Int, scanning: @escaping CatalogRetrieval.ShareScan, next: UnsafeMutablePointer<Int>,
    resultRows: UnsafeMutableBufferPointer<Int32>, resultScores: UnsafeMutableBufferPointer<Float>
  ) {
    self.k = k
    self.scanning = scanning
    self.next = next
    self.resultRows = resultRows
    self.resultScores = resultScores
  }

  func run() {
    var best = Kernels.RunningTopK(k: k, rows: resultRows, scores: resultScores)
    // A cancelled call stops claiming; the caller sees the flag too and throws.
    try? scanning(next, &best)
    count = best.finish()
  }
}

private let helperShareJob: @convention(c) (UnsafeMutableRawPointer?) -> Void = { context in
  Unmanaged<HelperShare>.fromOpaque(UnsafeRawPointer(context!)).takeUnretainedValue().run()
}

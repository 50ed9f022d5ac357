// Top-k over a stream of score blocks (a whole-catalog scan), so no call holds a score per
// catalog row: the scan writes one small block at a time (it stays in L1) and offers it here.

import CRecSysMath

extension Kernels {
  /// The best `k` (row, score) pairs seen so far, in caller memory. Same order as `topK`:
  /// descending score, ties to the lower row, NaN below every number. Rows must be offered in
  /// ascending order (blocks of a scan), which is what lets a tie never replace a kept row.
  public struct RunningTopK {
    private let rows: UnsafeMutablePointer<Int32>
    private let scores: UnsafeMutablePointer<Float>
    public let capacity: Int
    public private(set) var count = 0

    /// `rows` and `scores` hold at least `k` elements each; they become the result.
    public init(k: Int, rows: UnsafeMutableBufferPointer<Int32>, scores: UnsafeMutableBufferPointer<Float>) {
      precondition(k >= 0 && rows.count >= k && scores.count >= k, "RunningTopK: buffers smaller than k")
      capacity = k
      self.rows = rows.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!
      self.scores = scores.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!
    }

    /// The worst kept score once `k` are kept: a row scoring below it cannot enter (a tie with a
    /// higher row cannot either). -infinity while fewer are kept or the worst kept is NaN.
    public var worstKept: Float {
      count < capacity || capacity == 0 || scores[0].isNaN ? -.infinity : scores[0]
    }

    /// Offers `block[i]` as the score of row `firstRow + i`, for every i, leaving out rows
    /// `excluded` says so of. `excluded` is asked only about a row that would enter.
    public mutating func offer(
      _ block: UnsafeBufferPointer<Float>, firstRow: Int, excluded: (Int32) -> Bool
    ) {
      guard capacity > 0, let s = block.baseAddress else { return }
      var i = 0
      let n = block.count
      while i < n && count < capacity {
        let row = Int32(truncatingIfNeeded: firstRow + i)
        if !excluded(row) { push(row, s[i]) }
        i += 1
      }
      // While the worst kept score is NaN (rare), any number beats it.
      while i < n && scores[0].isNaN {
        if !s[i].isNaN { replaceRoot(Int32(truncatingIfNeeded: firstRow + i), s[i], excluded) }
        i += 1
      }
      // Only a score above the worst kept one can enter: jump from one to the next with the C
      // kernel's vector compares (few of a catalog's scores ever do).
      var threshold = scores[0]
      while i < n {
        i += recsys_first_above(s + i, n - i, threshold)
        if i == n { break }
        replaceRoot(Int32(truncatingIfNeeded: firstRow + i), s[i], excluded)
        threshold = scores[0]
        i += 1
      }
    }

    /// Sorts what was kept best first (in the buffers given to init) and returns how many.
    public mutating func finish() -> Int {
      var end = count - 1
      while end > 0 {
        swapAt(0, end)
        siftDown(0, end)
        end -= 1
      }
      return count
    }

    @inline(__always)
    private mutating func push(_ row: Int32, _ score: Float) {
      var child = count
      count += 1
      while child > 0 {
        let parent = (child - 1) / 2
        if !ranksBelow(score, row, scores[parent], rows[parent]) { break }
        rows[child] = rows[parent]
        scores[child] = scores[parent]
        child = parent
      }
      rows[child] = row
      scores[child] = score
    }

    @inline(__always)
    private mutating func replaceRoot(_ row: Int32, _ score: Float, _ excluded: (Int32) -> Bool) {
      if excluded(row) { return }
      rows[0] = row
      scores[0] = score
      siftDown(0, count)
    }

    /// True when (sa, a) ranks below (sb, b): lower score, NaN lowest, ties to the higher row.
    @inline(__always)
    private func ranksBelow(_ sa: Float, _ a: Int32, _ sb: Float, _ b: Int32) -> Bool {
      if sa.isNaN { return sb.isNaN ? a > b : true }
      if sb.isNaN { return false }
      if sa != sb { return sa < sb }
      return a > b
    }

    @inline(__always)
    private func swapAt(_ i: Int, _ j: Int) {
      let row = rows[i], score = scores[i]
      rows[i] = rows[j]
      scores[i] = scores[j]
      rows[j] = row
      scores[j] = score
    }

    // A min-heap under `ranksBelow`: the root is the worst pair kept.
    @inline(__always)
    private func siftDown(_ start: Int, _ size: Int) {
      var parent = start
      let row = rows[parent], score = scores[parent]
      while true {
        var child = 2 * parent + 1
        if child >= size { break }
        if child + 1 < size && ranksBelow(scores[child + 1], rows[child + 1], scores[child], rows[child]) { child += 1 }
        if !ranksBelow(scores[child], rows[child], score, row) { break }
        rows[parent] = rows[child]
        scores[parent] = scores[child]
        parent = child
      }
      rows[parent] = row
      scores[parent] = score
    }
  }
}

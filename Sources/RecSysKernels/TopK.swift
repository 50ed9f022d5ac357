// Top-k selection with a bounded heap of k indices: one pass over the scores, about
// k · ln(count / k) heap updates (each O(log k)) on random input, no sort of the whole vector, no
// allocation (the heap lives in the caller's result buffer).

import CRecSysMath

extension Kernels {
  /// Writes the indices of the `k` best scores into `result`, best first, and returns how many it
  /// wrote: `min(k, scores.count - number of distinct valid exclusions)`.
  ///
  /// Order: descending score; equal scores (including `0.0` and `-0.0`) by ascending index, so the
  /// result equals the first `k` of a stable sort by descending score. **NaN ranks below every
  /// number, `-inf` included**; NaNs among themselves by ascending index. So NaNs are only returned
  /// when fewer than `k` non-NaN scores remain.
  ///
  /// `excluding` lists indices never to return (e.g. items already in the history). It is meant to
  /// be small and may be unsorted; repeated and out-of-range entries are ignored. It is consulted
  /// only for a score that would enter the heap, so its length barely matters on the hot path.
  ///
  /// Cost: every score is compared with the heap's current minimum (in blocks of 8, branch-free);
  /// only a score that beats it touches the heap. 50 000 random scores, k = 10: about 10 µs in a
  /// release build; worst case (ascending scores, every one enters the heap) about 0.3 ms.
  @discardableResult
  public static func topK(
    scores: UnsafeBufferPointer<Float>,  // [count]
    k: Int,
    excluding: UnsafeBufferPointer<Int32>?,  // [e], indices into scores
    into result: UnsafeMutableBufferPointer<Int32>  // [min(k, count)], or larger
  ) -> Int {
    let exclusions = excluding ?? UnsafeBufferPointer(start: nil, count: 0)
    if exclusions.isEmpty { return topK(scores: scores, k: k, into: result, excluded: { _ in false }) }
    return topK(scores: scores, k: k, into: result, excluded: { exclusions.contains($0) })
  }

  /// `topK` with the indices never to return given as a test (an eligibility filter over a whole
  /// catalog: history, request ids, named item sets). `excluded` is asked only about an index
  /// whose score would enter the heap, so a filter of any size costs a few hundred tests per call.
  @discardableResult
  public static func topK(
    scores: UnsafeBufferPointer<Float>,  // [count]
    k: Int,
    into result: UnsafeMutableBufferPointer<Int32>,  // [min(k, count)], or larger
    excluded: (Int32) -> Bool
  ) -> Int {
    precondition(k >= 0, "topK: negative k")
    precondition(scores.count <= Int(Int32.max), "topK: more scores than Int32 indices")
    let capacity = min(k, scores.count)
    requireCount(result.count, atLeast: capacity, "topK: result too small")
    if capacity == 0 { return 0 }

    let s = scores.baseAddress!
    let heap = result.baseAddress!
    let count = scores.count

    // Fill: the first `capacity` admissible indices.
    var size = 0
    var i = 0
    while i < count && size < capacity {
      if !excluded(Int32(truncatingIfNeeded: i)) {
        heap[size] = Int32(truncatingIfNeeded: i)
        siftUp(heap, size, s)
        size += 1
      }
      i += 1
    }

    if size == capacity {
      // Scan: a later index wins only with a strictly better score (ties go to the lower index,
      // already in the heap).
      var threshold = s[Int(heap[0])]
      // While the worst kept score is NaN (rare), any number beats it; NaN scores never do.
      while i < count && threshold.isNaN {
        if !s[i].isNaN { offer(i, heap, size, s, excluded, &threshold) }
        i += 1
      }
      // The root is now a number and stays one. Only a score above it can enter: jump from one to
      // the next with the C kernel's vector compares (NaN is never above).
      while i < count {
        i += recsys_first_above(s + i, count - i, threshold)
        if i == count { break }
        offer(i, heap, size, s, excluded, &threshold)
        i += 1
      }
    }

    // Heap sort: repeatedly move the worst kept index to the back, leaving best-first order.
    var end = size - 1
    while end > 0 {
      result.swapAt(0, end)
      siftDown(heap, 0, end, s)
      end -= 1
    }
    return size
  }

  /// Replaces the heap's root with score index `i` unless it is excluded.
  @inline(__always)
  private static func offer(
    _ i: Int, _ heap: UnsafeMutablePointer<Int32>, _ size: Int, _ s: UnsafePointer<Float>,
    _ excluded: (Int32) -> Bool, _ threshold: inout Float
  ) {
    let index = Int32(truncatingIfNeeded: i)
    if excluded(index) { return }
    heap[0] = index
    siftDown(heap, 0, size, s)
    threshold = s[Int(heap[0])]
  }

  /// True when index `a` ranks below index `b`: lower score, NaN lowest, ties to the higher index.
  @inline(__always)
  private static func ranksBelow(_ a: Int32, _ b: Int32, _ s: UnsafePointer<Float>) -> Bool {
    let sa = s[Int(a)]
    let sb = s[Int(b)]
    if sa.isNaN { return sb.isNaN ? a > b : true }
    if sb.isNaN { return false }
    if sa != sb { return sa < sb }
    return a > b
  }

  // A min-heap under `ranksBelow`: the root is the worst index kept.
  @inline(__always)
  private static func siftUp(_ heap: UnsafeMutablePointer<Int32>, _ start: Int, _ s: UnsafePointer<Float>) {
    var child = start
    let item = heap[child]
    while child > 0 {
      let parent = (child - 1) / 2
      if !ranksBelow(item, heap[parent], s) { break }
      heap[child] = heap[parent]
      child = parent
    }
    heap[child] = item
  }

  @inline(__always)
  private static func siftDown(
    _ heap: UnsafeMutablePointer<Int32>, _ start: Int, _ size: Int, _ s: UnsafePointer<Float>
  ) {
    var parent = start
    let item = heap[parent]
    while true {
      var child = 2 * parent + 1
      if child >= size { break }
      if child + 1 < size && ranksBelow(heap[child + 1], heap[child], s) { child += 1 }
      if !ranksBelow(heap[child], item, s) { break }
      heap[parent] = heap[child]
      parent = child
    }
    heap[parent] = item
  }
}

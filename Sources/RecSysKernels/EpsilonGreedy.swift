// Epsilon-greedy slate selection with propensities: the serving policy of Q-value models (dqn).
// Built on topK (the greedy order) and SplitMix64 (the coin flips); no allocation.

extension Kernels {
  /// Int32 elements of scratch `epsilonGreedySlate` needs for `count` scores and slate size `k`:
  /// `2 * count + min(k, count)` (each index's place in the pool, the pool, the greedy order).
  public static func epsilonGreedySlateScratchCount(count: Int, k: Int) -> Int {
    precondition(count >= 0 && k >= 0, "negative dimension")
    return 2 * count + min(k, count)
  }

  /// Fills a slate of up to `k` indices of `scores`, slot by slot: with probability `epsilon` a
  /// uniformly random eligible index not chosen yet, otherwise the best one not chosen yet (greedy:
  /// highest score, ties to the lower index, NaN lowest: topK's order). Writes the indices in slot
  /// order into `result` and, for each slot, the probability that the policy picks that index
  /// there given the slots before it (its propensity, for off-policy / IPS estimates):
  ///
  ///     propensity = (1 - epsilon) * [index == greedy best remaining] + epsilon / R
  ///
  /// where R is the number of eligible indices not chosen yet. The product of a slate's
  /// propensities is the probability of the whole slate.
  ///
  /// `excluding` lists indices never to pick (as in topK: may be unsorted, repeats and out-of-range
  /// entries are ignored). Returns the slate length, `min(k, eligible count)`.
  ///
  /// Randomness: per slot, one `generator.nextUnit()` (explore when `< epsilon`) and, when it
  /// explores, one `generator.next(below: R)`; with `epsilon == 0` the generator is not touched,
  /// the slate is exactly topK's and every propensity is exactly 1. The same generator state gives
  /// the same slate.
  ///
  /// Cost: one topK of `min(k, eligible)` plus O(count + k); the greedy best remaining at slot s is
  /// always among the first s + 1 entries of the greedy order, so topK's k entries suffice.
  @discardableResult
  public static func epsilonGreedySlate(
    scores: UnsafeBufferPointer<Float>,  // [count]
    k: Int,
    epsilon: Double,
    excluding: UnsafeBufferPointer<Int32>?,  // [e], indices into scores
    generator: inout SplitMix64,
    result: UnsafeMutableBufferPointer<Int32>,  // [min(k, count)], indices in slot order
    propensities: UnsafeMutableBufferPointer<Float>,  // [min(k, count)]
    scratch: UnsafeMutableBufferPointer<Int32>  // [epsilonGreedySlateScratchCount(count:k:)]
  ) -> Int {
    precondition(k >= 0, "epsilonGreedySlate: negative k")
    precondition(epsilon >= 0 && epsilon <= 1, "epsilonGreedySlate: epsilon must be within [0, 1]")
    precondition(scores.count <= Int(Int32.max), "epsilonGreedySlate: more scores than Int32 indices")
    let count = scores.count
    let capacity = min(k, count)
    requireCount(result.count, atLeast: capacity, "epsilonGreedySlate: result too small")
    requireCount(propensities.count, atLeast: capacity, "epsilonGreedySlate: propensities too small")
    requireCount(
      scratch.count, atLeast: epsilonGreedySlateScratchCount(count: count, k: k),
      "epsilonGreedySlate: scratch too small")
    if capacity == 0 { return 0 }

    // pool[0..<eligible] holds the eligible indices; pool[0..<slot] are the ones already chosen.
    // place[i] is index i's position in pool (-1: excluded), so "is i chosen" is place[i] < slot.
    let place = scratch.baseAddress!
    let pool = place + count
    let order = pool + count
    place.update(repeating: 0, count: count)
    if let excluding {
      for index in excluding where index >= 0 && Int(index) < count { place[Int(index)] = -1 }
    }
    var eligible = 0
    for index in 0..<count where place[index] == 0 {
      place[index] = Int32(truncatingIfNeeded: eligible)
      pool[eligible] = Int32(truncatingIfNeeded: index)
      eligible += 1
    }
    let slots = min(capacity, eligible)
    if slots == 0 { return 0 }
    let found = topK(
      scores: scores, k: slots, excluding: excluding, into: UnsafeMutableBufferPointer(start: order, count: slots))
    precondition(found == slots, "epsilonGreedySlate: topK disagrees on the eligible count")

    var cursor = 0  // order[0..<cursor] are all chosen already
    for slot in 0..<slots {
      while place[Int(order[cursor])] < slot { cursor += 1 }
      let greedy = order[cursor]
      let remaining = eligible - slot
      var pick = greedy
      if epsilon > 0 && generator.nextUnit() < epsilon {
        pick = pool[slot + generator.next(below: remaining)]
      }
      // Move `pick` to pool[slot], the displaced index to pick's old place.
      let from = Int(place[Int(pick)])
      let displaced = pool[slot]
      pool[from] = displaced
      place[Int(displaced)] = Int32(truncatingIfNeeded: from)
      pool[slot] = pick
      place[Int(pick)] = Int32(truncatingIfNeeded: slot)

      result[slot] = pick
      propensities[slot] = Float((pick == greedy ? 1 - epsilon : 0) + epsilon / Double(remaining))
    }
    return slots
  }
}

import XCTest

import OffPolicy

/// The closed-form marginals against enumerating every slate the epsilon-greedy policy can draw.
final class EpsilonGreedyMarginalsTests: XCTestCase {
  /// P(rank r at slot s) by walking every sequence of picks (ranks 0..<n, greedy = lowest unchosen).
  private func enumerated(eligible n: Int, epsilon: Double, slots: Int) -> [[Double]] {
    var table = [[Double]](repeating: [Double](repeating: 0, count: n), count: slots)
    func walk(_ chosen: [Int], _ probability: Double) {
      let slot = chosen.count
      guard slot < slots, probability > 0 else { return }
      let remaining = (0..<n).filter { !chosen.contains($0) }
      for rank in remaining {
        let p = (rank == remaining[0] ? 1 - epsilon : 0) + epsilon / Double(remaining.count)
        table[slot][rank] += probability * p
        walk(chosen + [rank], probability * p)
      }
    }
    walk([], 1)
    return table
  }

  func testMatchesEnumerationForSmallSlates() {
    for n in 1...7 {
      for slots in 1...min(n, 5) {
        for epsilon in [0.0, 0.05, 0.3, 0.7, 1.0] {
          let expected = enumerated(eligible: n, epsilon: epsilon, slots: slots)
          let marginals = EpsilonGreedyMarginals(eligible: n, epsilon: epsilon, slots: slots)
          for slot in 0..<slots {
            for rank in 0..<n {
              XCTAssertEqual(marginals.probability(rank: rank, slot: slot), expected[slot][rank], accuracy: 1e-12,
                             "n \(n) slots \(slots) epsilon \(epsilon) slot \(slot) rank \(rank)")
            }
          }
        }
      }
    }
  }

  func testEverySlotIsADistributionOverItemsAndEveryItemAtMostOnce() {
    let marginals = EpsilonGreedyMarginals(eligible: 40, epsilon: 0.2, slots: 10)
    for slot in 0..<10 {
      XCTAssertEqual((0..<40).map { marginals.probability(rank: $0, slot: slot) }.reduce(0, +), 1, accuracy: 1e-12)
    }
    for rank in 0..<40 {
      XCTAssertLessThanOrEqual((0..<10).map { marginals.probability(rank: rank, slot: $0) }.reduce(0, +), 1 + 1e-12)
    }
  }

  func testOutsideTheSlateIsZero() {
    let marginals = EpsilonGreedyMarginals(eligible: 5, epsilon: 0.5, slots: 2)
    XCTAssertEqual(marginals.probability(rank: 0, slot: 2), 0)
    XCTAssertEqual(marginals.probability(rank: 5, slot: 0), 0)
    XCTAssertEqual(marginals.probability(rank: -1, slot: 0), 0)
  }

  func testEpsilonFromTheFirstSlot() {
    // greedy pick at slot 0 of 10: 1 - 0.3 + 0.03; explored: 0.03.
    XCTAssertEqual(EpsilonGreedyMarginals.epsilon(firstPropensity: 0.73, firstWasGreedy: true, eligible: 10)!,
                   0.3, accuracy: 1e-12)
    XCTAssertEqual(EpsilonGreedyMarginals.epsilon(firstPropensity: 0.03, firstWasGreedy: false, eligible: 10)!,
                   0.3, accuracy: 1e-12)
    XCTAssertNil(EpsilonGreedyMarginals.epsilon(firstPropensity: 1, firstWasGreedy: true, eligible: 1))
  }
}

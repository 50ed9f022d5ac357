/// The state a sequence kind reads its user vector from (lstm's `H[last]`, sasrec's `x[last]`).
public enum SequenceState {
  /// The last of `steps` rows of `width` floats in `rows`; for an empty history (no steps) `zeros`,
  /// filled with 0 (models.md: an empty history reads as a zero state).
  public static func last(
    of rows: UnsafeMutableBufferPointer<Float>, steps: Int, width: Int, orZeros zeros: UnsafeMutableBufferPointer<Float>
  ) -> UnsafeBufferPointer<Float> {
    guard steps > 0 else {
      zeros.update(repeating: 0)
      return UnsafeBufferPointer(zeros)
    }
    return UnsafeBufferPointer(rebasing: rows[(steps - 1) * width..<steps * width])
  }
}

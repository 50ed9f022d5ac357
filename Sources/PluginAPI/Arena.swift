/// The per-request scratch of a plugin: one allocation sized up front, handed out as consecutive
/// typed slices, freed when the call ends. A request then costs one allocation whatever its
/// candidate count (plugins size it for the worst case: every candidate known, every event kept).
///
/// Floats come first, then Int32s (both 4 bytes, so every slice stays aligned); `take` checks the
/// capacity, so a sizing mistake traps instead of writing past the block.
public struct Arena {
  private let base: UnsafeMutableRawPointer
  private let floatCapacity: Int
  private let intCapacity: Int
  private var floatsTaken = 0
  private var intsTaken = 0

  public init(floats: Int, ints: Int = 0) {
    precondition(floats >= 0 && ints >= 0, "Arena: negative size")
    floatCapacity = floats
    intCapacity = ints
    base = .allocate(byteCount: 4 * max(floats + ints, 1), alignment: 64)
    base.bindMemory(to: Float.self, capacity: floats)
    (base + 4 * floats).bindMemory(to: Int32.self, capacity: ints)
  }

  /// Frees the block; every slice taken from it is then invalid. (`with` frees on its own.)
  public func free() { base.deallocate() }

  /// Runs `body` with an arena of this size and frees it afterwards, also when `body` throws.
  public static func with<Result>(
    floats: Int, ints: Int = 0, _ body: (inout Arena) throws -> Result
  ) rethrows -> Result {
    var arena = Arena(floats: floats, ints: ints)
    defer { arena.free() }
    return try body(&arena)
  }

  /// The next `count` floats (uninitialised).
  public mutating func floats(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
    precondition(count >= 0 && floatsTaken + count <= floatCapacity, "Arena: floats exhausted")
    defer { floatsTaken += count }
    return UnsafeMutableBufferPointer(start: base.assumingMemoryBound(to: Float.self) + floatsTaken, count: count)
  }

  /// The next `count` Int32s (uninitialised).
  public mutating func ints(_ count: Int) -> UnsafeMutableBufferPointer<Int32> {
    precondition(count >= 0 && intsTaken + count <= intCapacity, "Arena: ints exhausted")
    defer { intsTaken += count }
    let start = (base + 4 * floatCapacity).assumingMemoryBound(to: Int32.self)
    return UnsafeMutableBufferPointer(start: start + intsTaken, count: count)
  }
}

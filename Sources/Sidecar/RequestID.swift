import Experiments
import Synchronization

/// Request ids for calls that came without one: 32 hex digits, unique in this process by a
/// counter and across processes by 64 random bits drawn once at start. Not secret, so no
/// random draw (a getrandom system call) per call.
enum RequestID {
  private static let processBits: UInt64 = {
    var generator = SystemRandomNumberGenerator()
    return generator.next()
  }()
  private static let counter = Atomic<UInt64>(0)

  static func generate() -> String {
    let number = counter.add(1, ordering: .relaxed).newValue
    // mix64 is a bijection, so distinct counters give distinct ids; it spreads them so that
    // ids do not look sequential (and bucket well wherever someone hashes them).
    return hex(processBits, Bucketing.mix64(number ^ processBits))
  }

  private static func hex(_ high: UInt64, _ low: UInt64) -> String {
    String(unsafeUninitializedCapacity: 32) { buffer in
      let digits: StaticString = "0123456789abcdef"
      for position in 0..<16 {
        let shift = UInt64(60 - 4 * position)
        buffer[position] = digits.utf8Start[Int((high >> shift) & 0xF)]
        buffer[16 + position] = digits.utf8Start[Int((low >> shift) & 0xF)]
      }
      return 32
    }
  }

  /// FNV-1a over the id: the request's seed (Thompson arms draw from it), so a response can be
  /// replayed from its request id.
  static func seed(_ requestID: String) -> UInt64 {
    Bucketing.fnv1a64(requestID)
  }

  /// The seed a model explores with: the request's, mixed with the model's name, so that two
  /// exploring models (two arms, or an arm and its shadow) never draw the same stream.
  static func explorationSeed(_ requestSeed: UInt64, model: String) -> UInt64 {
    Bucketing.mix64(requestSeed ^ Bucketing.fnv1a64(model))
  }
}

import Experiments

/// Request ids for calls that came without one: 128 random bits as 32 hex digits.
enum RequestID {
  static func generate() -> String {
    var generator = SystemRandomNumberGenerator()
    let high = generator.next() as UInt64
    let low = generator.next() as UInt64
    return hex(high) + hex(low)
  }

  private static func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
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

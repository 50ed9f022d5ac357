/// The whole-number settings, each declared once: its YAML key, its flag, its range and where it
/// lives in SidecarConfig. The YAML reader reads them from here, and `validate()` checks the
/// final settings (file + flags) against the same ranges, so a flag is refused exactly where the
/// file would be (`--exposure-log-keep 5000` like `exposure_log_keep: 5000`).
extension SidecarConfig {
  public struct IntegerKey: Sendable {
    public let yaml: String
    public let range: ClosedRange<Int>
    /// Where the value lives (a flag writes it there too).
    public let path: WritableKeyPath<SidecarConfig, Int> & Sendable

    /// The command-line spelling: `exposure_log_keep` -> `--exposure-log-keep`.
    public var flag: String { "--" + yaml.replacingOccurrences(of: "_", with: "-") }

    /// What the key takes, for messages and help.
    public var expected: String { "a whole number from \(range.lowerBound) to \(range.upperBound)" }
  }

  public static let integerKeys: [IntegerKey] = [
    IntegerKey(yaml: "max_receive_message_bytes", range: 1...Int(Int32.max), path: \.maxReceiveMessageBytes),
    IntegerKey(yaml: "max_top_k", range: 1...Int(Int32.max), path: \.limits.maxTopK),
    IntegerKey(yaml: "max_candidates", range: 1...Int(Int32.max), path: \.limits.maxCandidates),
    IntegerKey(yaml: "max_history", range: 1...Int(Int32.max), path: \.limits.maxHistory),
    IntegerKey(yaml: "exposure_log_max_bytes", range: 4_096...Int(Int64.max), path: \.exposureLogMaxBytes),
    IntegerKey(yaml: "exposure_log_keep", range: 1...1_000, path: \.exposureLogKeep),
    IntegerKey(yaml: "exposure_log_queue", range: 1...(1 << 24), path: \.exposureLogQueue),
    IntegerKey(yaml: "feedback_window", range: 1...(1 << 26), path: \.feedbackWindow),
    IntegerKey(yaml: "experiment_state_buffer", range: 1...(1 << 26), path: \.experimentStateBuffer),
    IntegerKey(yaml: "experiment_state_flush_ms", range: 1...600_000, path: \.experimentStateFlushMilliseconds),
    IntegerKey(yaml: "feedback_ttl_seconds", range: 1...(366 * 86_400), path: \.feedbackTTLSeconds),
  ]

  /// Every whole-number setting within its range; the message names both spellings.
  func validateIntegers() throws {
    for key in Self.integerKeys where !key.range.contains(self[keyPath: key.path]) {
      throw Invalid(description:
        "\(key.yaml) (\(key.flag)) is \(self[keyPath: key.path]); it must be \(key.expected)")
    }
  }
}

/// A fuzz target: one function that takes arbitrary bytes and must neither crash, hang
/// (> 1 s per input) nor grow without bound, whatever the bytes are. Refusing an input by
/// throwing or returning an error is the expected outcome for most of them.
///
/// Targets run three ways, all through `FuzzTargets.all`:
/// - `make fuzz`: libFuzzer (`recsys-fuzz` built with `-sanitize=fuzzer`), coverage-guided,
///   for `FUZZ_SECONDS` per target, starting from `Tests/Fuzz/corpus/<name>/`;
/// - `make test`: the same for a short time, so every run also explores a little;
/// - `FuzzTargetsTests`: every committed corpus and regression file replayed in-process.
public struct FuzzTarget: Sendable {
  /// The target's name: `RECSYS_FUZZ_TARGET=<name>` and the folder `Tests/Fuzz/corpus/<name>/`.
  public let name: String
  /// What the target feeds the bytes to, for `recsys-fuzz --list`.
  public let summary: String
  /// Runs one input. Called many times per process; must not keep state that grows per input.
  public let run: @Sendable (UnsafeRawBufferPointer) -> Void

  public init(name: String, summary: String, run: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) {
    self.name = name
    self.summary = summary
    self.run = run
  }
}

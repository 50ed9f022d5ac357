import FuzzTargets

#if canImport(Glibc)
  import Glibc
#endif

// Built two ways. `make fuzz` compiles with -DRECSYS_LIBFUZZER and -sanitize=fuzzer: libFuzzer
// brings `main`, and RECSYS_FUZZ_TARGET picks the target. A normal build gets a replay tool:
// `recsys-fuzz TARGET FILE|DIR...` runs each input once (how a crash file is reproduced).

#if RECSYS_LIBFUZZER
  // SwiftPM links an executable with `main` defined as `<target>_main`, so libFuzzer's own
  // `main` is never pulled in: this entry hands the command line to libFuzzer's driver.
  nonisolated(unsafe) private var selected: FuzzTarget?

  @_silgen_name("LLVMFuzzerRunDriver")
  private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

  @_cdecl("recsys_fuzz_main")
  public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    let name = getenv("RECSYS_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTargets.named(name) else {
      let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
      fputs("recsys-fuzz: set RECSYS_FUZZ_TARGET to one of: \(names) (got \"\(name)\")\n", stderr)
      return 2
    }
    selected = target
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in
      selected!.run(UnsafeRawBufferPointer(start: data, count: size))
      return 0
    }
  }
#else
  import Foundation

  @main
  struct Replay {
    static func main() {
      let arguments = Array(CommandLine.arguments.dropFirst())
      if arguments.first == "--list" || arguments.isEmpty {
        for target in FuzzTargets.all { print("\(target.name)\t\(target.summary)") }
        if arguments.isEmpty { fputs("usage: recsys-fuzz TARGET FILE|DIR...  (replays inputs)\n", stderr) }
        exit(arguments.isEmpty ? 2 : 0)
      }
      guard let target = FuzzTargets.named(arguments[0]) else {
        fputs("recsys-fuzz: no target \"\(arguments[0])\"; see --list\n", stderr)
        exit(2)
      }
      var count = 0
      for path in arguments.dropFirst() {
        for file in files(at: path) {
          let data = FileManager.default.contents(atPath: file) ?? Data()
          data.withUnsafeBytes { target.run($0) }
          count += 1
        }
      }
      print("\(target.name): \(count) inputs replayed, no crash")
    }

    static func files(at path: String) -> [String] {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
      guard isDirectory.boolValue else { return [path] }
      let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
      return names.sorted().map { "\(path)/\($0)" }.filter { !$0.hasSuffix("/README.md") }
    }
  }
#endif

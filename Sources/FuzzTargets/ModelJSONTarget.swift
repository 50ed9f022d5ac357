import Foundation
import Logging
import ModelStore
import PluginHost
import SafeTensors

/// `model-json`: the bytes are a version's model.json. They go through the real load path
/// (`VersionLoader.loadSkippingChecksum`: manifest parse, plugin lookup, tensor checks, plugin
/// create, warm-up request) against small real weights of the manifest's kind: the golden
/// fixtures for mlp, lstm, sasrec and dqn, tiny in-memory files for popularity and echo. Only
/// the sha256 comparison is skipped (a fuzzer cannot produce a matching digest).
///
/// Plugins come from env RECSYS_PLUGINS_DIR (default .build/plugins); without them every input
/// stops at "no plugin serves kind", so the target says so once on stderr. They are not built
/// with coverage instrumentation, so libFuzzer is guided by the host's code only; the inputs
/// still run every plugin's create and warm-up.
enum ModelJSONTarget {
  static let target = FuzzTarget(
    name: "model-json",
    summary: "VersionLoader.loadSkippingChecksum: model.json through parse, plugin create and warm-up on real weights",
    run: { bytes in
      let text = String(decoding: bytes, as: UTF8.self)
      // The kind only picks the weights; the loader parses the manifest again, as production does.
      let kind = (try? ModelManifest(json: text))?.kind ?? "mlp"
      let weights = Fixtures.shared.weights(forKind: kind)
      do {
        let loaded = try Fixtures.shared.loader.loadSkippingChecksum(manifestJSON: text, weights: weights)
        if Fixtures.verbose { print("model-json: loaded \(loaded.model.kind)") }
      } catch {
        if Fixtures.verbose { print("model-json: refused: \(error)") }
      }
    })

  /// Loaded once per process: the plugins and one weights file per kind.
  final class Fixtures: @unchecked Sendable {
    static let shared = Fixtures()
    /// RECSYS_FUZZ_VERBOSE=1: print each input's outcome (replaying a file to see why it is refused).
    static let verbose = ProcessInfo.processInfo.environment["RECSYS_FUZZ_VERBOSE"] == "1"

    let loader: VersionLoader
    private let weightsByKind: [String: SafeTensorsFile]

    private init() {
      let directory = ProcessInfo.processInfo.environment["RECSYS_PLUGINS_DIR"] ?? ".build/plugins"
      var logger = Logger(label: "fuzz-plugins")
      logger.logLevel = .critical
      let plugins = PluginSet.load(directory: directory, logger: logger)
      if plugins.byKind.isEmpty {
        fputs("model-json: no plugins in \(directory) (set RECSYS_PLUGINS_DIR); inputs stop at the plugin lookup\n", stderr)
      }
      loader = VersionLoader(plugins: plugins)
      let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/golden")
      var weights: [String: SafeTensorsFile] = [:]
      for kind in ["mlp", "lstm", "sasrec", "dqn"] {
        let path = golden.appendingPathComponent("\(kind)/model/1/weights.safetensors").path
        do {
          weights[kind] = try SafeTensorsFile(path: path)
        } catch {
          fputs("model-json: cannot read \(path): \(error)\n", stderr)
        }
      }
      weights["popularity"] = Self.tiny([("item_ids", "I64", 8), ("popularity", "F32", 4)])
      weights["echo"] = Self.tiny([("item_ids", "I64", 8)])
      weightsByKind = weights
    }

    /// The fixture for `kind`; the mlp's for kinds without one (the loader refuses those anyway).
    func weights(forKind kind: String) -> SafeTensorsFile {
      weightsByKind[kind] ?? weightsByKind["mlp"] ?? weightsByKind["popularity"]!
    }

    /// A safetensors file of 8 items: ids 101...108, other tensors counting up from 1.
    static func tiny(_ tensors: [(name: String, dtype: String, elementSize: Int)]) -> SafeTensorsFile {
      let count = 8
      var header: [String] = []
      var offset = 0
      for tensor in tensors {
        let size = count * tensor.elementSize
        header.append("\"\(tensor.name)\":{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(count)],\"data_offsets\":[\(offset),\(offset + size)]}")
        offset += size
      }
      var json = Array("{\(header.joined(separator: ","))}".utf8)
      while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }  // keeps the data 8-byte aligned
      var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json
      for tensor in tensors {
        for index in 0..<count {
          if tensor.dtype == "I64" {
            bytes += withUnsafeBytes(of: Int64(101 + index).littleEndian, Array.init)
          } else {
            bytes += withUnsafeBytes(of: Float(index + 1).bitPattern.littleEndian, Array.init)
          }
        }
      }
      return try! bytes.withUnsafeBytes { try SafeTensorsFile(bytes: $0, name: "tiny.safetensors") }
    }
  }
}

import Foundation
import PluginHost
import XCTest

/// Builds Tests/e2e/plugins/constant_plugin.c (kind "constant") with `flags` into a fresh folder
/// only the test's user can write (FileSafety refuses anything else) and loads it.
enum CPluginBuild {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  static func build(_ name: String, flags: [String]) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plugin-host-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o755])
    let library = folder.appendingPathComponent("lib\(name).so").path
    let compiler = Process()
    compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    compiler.arguments = ["cc", "-shared", "-fPIC", "-O1",
                          "-I", root.appendingPathComponent("Sources/CRecSysPlugin/include").path,
                          "-I", root.appendingPathComponent("Sources/CRecSysStatus/include").path]
      + flags + ["-o", library, root.appendingPathComponent("Tests/e2e/plugins/constant_plugin.c").path]
    try compiler.run()
    compiler.waitUntilExit()
    guard compiler.terminationStatus == 0 else {
      throw PluginError("cc \(flags) failed with status \(compiler.terminationStatus)")
    }
    chmod(library, 0o755)
    return library
  }

  /// What the plugin's set_host_abi() was told (0: never called), through its own export.
  static func toldHostMinor(_ library: String) -> UInt32? {
    guard let handle = dlopen(library, RTLD_NOW | RTLD_NOLOAD),
          let symbol = dlsym(handle, "constant_host_abi_minor") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) () -> UInt32).self)()
  }
}

/// A "constant" model: the item_ids tensor, kept alive with the instance.
final class ConstantModel {
  let itemIDs: [Int64]
  let instance: ModelInstance

  init(_ plugin: Plugin, itemIDs: [Int64] = [10, 20, 30, 40]) throws {
    self.itemIDs = itemIDs
    let storage = UnsafeMutableBufferPointer<Int64>.allocate(capacity: itemIDs.count)
    _ = storage.initialize(from: itemIDs)
    let owner = Storage(storage)
    instance = try plugin.createInstance(
      model: "constant@1", manifestJSON: #"{"kind": "constant"}"#,
      tensors: [TensorView(name: "item_ids", dtype: "I64", shape: [itemIDs.count],
                           data: UnsafeRawPointer(storage.baseAddress), byteCount: 8 * itemIDs.count)],
      owner: owner)
  }

  final class Storage {
    let buffer: UnsafeMutableBufferPointer<Int64>
    init(_ buffer: UnsafeMutableBufferPointer<Int64>) { self.buffer = buffer }
    deinit { buffer.deallocate() }
  }
}

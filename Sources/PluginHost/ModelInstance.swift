import CRecSysPlugin

/// A model created by a plugin from one store version. Read-only, so any number of
/// threads may call `recommend` at once; destroyed when the last reference goes.
public final class ModelInstance: @unchecked Sendable {
  public let plugin: Plugin
  private let handle: OpaquePointer
  /// Keeps the tensor memory (the weights in private memory) and the C views of it alive.
  private let owner: AnyObject
  private let tensorStorage: TensorStorage

  init(plugin: Plugin, manifestJSON: String, tensors: [TensorView], owner: AnyObject) throws {
    let storage = TensorStorage(tensors)
    var created: OpaquePointer?
    let errorCapacity = 1024
    let (status, message) = manifestJSON.withCString { manifest in
      withUnsafeTemporaryAllocation(of: CChar.self, capacity: errorCapacity) { error -> (Int32, String) in
        error[0] = 0
        var config = recsys_model_config(
          manifest_json: manifest, tensors: storage.tensors, tensor_count: storage.count)
        let status = plugin.record.pointee.create(&config, &created, error.baseAddress, errorCapacity)
        return (status, String(cString: error.baseAddress!))
      }
    }
    guard status == RECSYS_OK, let created else {
      throw PluginError(code: status == RECSYS_OK ? RECSYS_INTERNAL : status,
                        message.isEmpty ? "the \(plugin.kind) plugin failed to create the model" : message)
    }
    self.plugin = plugin
    handle = created
    self.owner = owner
    tensorStorage = storage
  }

  deinit {
    plugin.record.pointee.destroy(handle)
  }

  /// Runs the plugin on one request. Throws the plugin's status and message.
  public func recommend(_ request: UnsafePointer<recsys_request>, into result: UnsafeMutablePointer<recsys_result>) throws {
    // An ABI 1.0/1.1 plugin does not know `excluded_sets`: serving it a filtered request would
    // silently return excluded items.
    if request.pointee.excluded_set_count > 0 && plugin.abiMinor < 2 {
      throw PluginError(code: RECSYS_FAILED_PRECONDITION,
        "the \(plugin.kind) plugin (ABI \(plugin.abiVersion)) predates eligibility filters (ABI 1.2); "
          + "rebuild it against this sidecar's recsys_plugin.h, or send the request without exclude_item_ids / exclude_item_sets")
    }
    let errorCapacity = 512
    try withUnsafeTemporaryAllocation(of: CChar.self, capacity: errorCapacity) { error in
      error[0] = 0
      let status = plugin.record.pointee.recommend(handle, request, result, error.baseAddress, errorCapacity)
      if status != RECSYS_OK {
        throw PluginError(code: status, String(cString: error.baseAddress!))
      }
    }
  }
}

extension ModelInstance {
  /// Explains the items a request returned (ABI 1.1 `explain`): fills `contributions`
  /// (`[items x history_count]`) and `attention` (`[history_count]`), NaN where the plugin says
  /// nothing. A plugin without explain() leaves everything NaN. Throws the plugin's status.
  public func explain(_ request: UnsafePointer<recsys_request>, items: UnsafeBufferPointer<Int64>,
                      contributions: UnsafeMutableBufferPointer<Float>, attention: UnsafeMutableBufferPointer<Float>) throws {
    precondition(contributions.count >= items.count * request.pointee.history_count
                   && attention.count >= request.pointee.history_count, "explain: output too small")
    contributions.update(repeating: .nan)
    attention.update(repeating: .nan)
    guard let explain = plugin.explain, !items.isEmpty else { return }
    var explanation = recsys_explanation(
      item_ids: items.baseAddress, item_count: items.count, contributions: contributions.baseAddress,
      attention: attention.baseAddress)
    let errorCapacity = 512
    try withUnsafeTemporaryAllocation(of: CChar.self, capacity: errorCapacity) { error in
      error[0] = 0
      let status = explain(handle, request, &explanation, error.baseAddress, errorCapacity)
      if status != RECSYS_OK {
        throw PluginError(code: status, String(cString: error.baseAddress!))
      }
    }
  }
}

/// The C views (`recsys_tensor`) of a version's tensors, with their names and shapes.
final class TensorStorage {
  let tensors: UnsafeMutablePointer<recsys_tensor>
  let count: Int

  init(_ views: [TensorView]) {
    count = views.count
    tensors = .allocate(capacity: max(count, 1))
    for (index, view) in views.enumerated() {
      let shape = UnsafeMutablePointer<Int64>.allocate(capacity: max(view.shape.count, 1))
      for (axis, size) in view.shape.enumerated() { shape[axis] = Int64(size) }
      tensors[index] = recsys_tensor(
        name: UnsafePointer(strdup(view.name)), dtype: view.dtype == "I64" ? RECSYS_DTYPE_I64 : RECSYS_DTYPE_F32,
        rank: Int32(view.shape.count), shape: UnsafePointer(shape), data: view.data, byte_count: UInt64(view.byteCount))
    }
  }

  deinit {
    for index in 0..<count {
      free(UnsafeMutableRawPointer(mutating: tensors[index].name))
      UnsafeMutablePointer(mutating: tensors[index].shape).deallocate()
    }
    tensors.deallocate()
  }
}

import Foundation  // strdup, free

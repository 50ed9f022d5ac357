import CRecSysPlugin
import RecSysStatus

/// A model created by a plugin from one store version. Read-only, so any number of
/// threads may call `recommend` at once; destroyed when the last reference goes.
public final class ModelInstance: @unchecked Sendable {
  public let plugin: Plugin
  private let handle: OpaquePointer
  /// Keeps the tensor memory (the weights in private memory) and the C views of it alive.
  private let owner: AnyObject
  private let tensorStorage: TensorStorage

  /// The store version it was created from ("mlp@3"; empty in tests that load a plugin alone),
  /// named in every error the instance's answers raise.
  public let model: String

  init(plugin: Plugin, model: String, manifestJSON: String, tensors: [TensorView], owner: AnyObject) throws {
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
    self.plugin = plugin
    self.model = model
    guard status == RECSYS_OK, let created else {
      throw PluginError(code: status == RECSYS_OK ? .internal : (StatusCode(rawValue: status) ?? .internal),
        message.isEmpty ? "the \(plugin.kind) plugin failed to create the model (status \(status))" : message)
    }
    handle = created
    self.owner = owner
    tensorStorage = storage
  }

  deinit {
    plugin.record.pointee.destroy(handle)
  }

  /// Runs the plugin on one request, writing into `buffers`. Throws the plugin's status and
  /// message, or `PluginAnswerError` when the answer breaks the contract (see `check`).
  public func recommend(_ request: BorrowedRequest, into buffers: AnswerBuffers) throws -> BorrowedAnswer {
    try request.withPluginRequest(for: plugin) { raw in
      var result = recsys_result(
        item_ids: buffers.itemIDs.baseAddress, scores: buffers.scores.baseAddress,
        propensities: buffers.propensities.baseAddress, capacity: min(buffers.itemIDs.count, max(request.topK, 0)),
        count: 0, unknown_item_ids: buffers.unknownItemIDs.baseAddress, unknown_count: 0)
      try call { error, capacity in plugin.record.pointee.recommend(handle, raw, &result, error, capacity) }
      return buffers.answer(try check(result, request, buffers))
    }
  }

  /// Explains the items a request returned (ABI 1.1 `explain`): fills `contributions`
  /// (`[items x history]`) and `attention` (`[history]`), NaN where the plugin says nothing.
  /// A plugin without explain() leaves everything NaN. Throws the plugin's status.
  public func explain(_ request: BorrowedRequest, items: UnsafeBufferPointer<Int64>,
                      contributions: UnsafeMutableBufferPointer<Float>, attention: UnsafeMutableBufferPointer<Float>) throws {
    let historyCount = request.historyItemIDs.count
    precondition(contributions.count >= items.count * historyCount && attention.count >= historyCount,
                 "explain: output too small")
    contributions.update(repeating: .nan)
    attention.update(repeating: .nan)
    guard let explain = plugin.explain, !items.isEmpty else { return }
    try request.withPluginRequest(for: plugin) { raw in
      var explanation = recsys_explanation(
        item_ids: items.baseAddress, item_count: items.count, contributions: contributions.baseAddress,
        attention: attention.baseAddress)
      try call { error, capacity in explain(handle, raw, &explanation, error, capacity) }
    }
  }

  /// One plugin call with an error buffer; a status other than OK becomes the call's error.
  private func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> recsys_status) throws {
    let errorCapacity = 512
    try withUnsafeTemporaryAllocation(of: CChar.self, capacity: errorCapacity) { error in
      error[0] = 0
      let status = body(error.baseAddress!, errorCapacity)
      if status != RECSYS_OK { throw statusError(status, message: String(cString: error.baseAddress!)) }
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

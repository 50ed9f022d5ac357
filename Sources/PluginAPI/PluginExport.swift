import CRecSysPlugin
import Foundation
import RecSysKernels

/// Exports one `RecommenderModel` type through recsys_plugin.h. A plugin library
/// serves one kind, so the type is kept in a global that the C entry points read.
public enum PluginExport {
  /// The body of a plugin's `recsys_plugin_entry`: returns the registration record
  /// (built once, never freed).
  public static func register<Model: RecommenderModel>(_ type: Model.Type) -> UnsafeRawPointer {
    if let registration { return UnsafeRawPointer(registration) }
    // Requests are the parallelism: OpenBLAS must not start a thread per core under each one.
    Kernels.useSingleThread()
    exportedType = type
    let record = UnsafeMutablePointer<recsys_plugin>.allocate(capacity: 1)
    let specs = UnsafeMutablePointer<recsys_tensor_spec>.allocate(capacity: max(type.tensorSpecs.count, 1))
    for (index, spec) in type.tensorSpecs.enumerated() {
      specs[index] = recsys_tensor_spec(
        name: UnsafePointer(strdup(spec.name)), dtype: spec.dtype.raw,
        shape: UnsafePointer(strdup(spec.shape)), required: spec.required ? 1 : 0)
    }
    record.initialize(to: recsys_plugin(
      abi_major: UInt32(RECSYS_PLUGIN_ABI_MAJOR), abi_minor: UInt32(RECSYS_PLUGIN_ABI_MINOR),
      struct_size: UInt32(MemoryLayout<recsys_plugin>.size),
      kind: UnsafePointer(strdup(type.kind)), plugin_version: UnsafePointer(strdup(type.version)),
      flags: type.needsCandidates ? RECSYS_PLUGIN_NEEDS_CANDIDATES : 0,
      tensor_specs: UnsafePointer(specs), tensor_spec_count: type.tensorSpecs.count,
      create: createInstance, recommend: recommend, destroy: destroyInstance,
      explain: type.explains ? explain : nil, set_host_abi: setHostABI))
    registration = record
    return UnsafeRawPointer(record)
  }

  /// The ABI minor of the host that loaded this plugin (ABI 1.3 `set_host_abi`); 1 when the host
  /// never said (a host older than 1.3, whose requests may end before any field added after 1.1).
  public internal(set) nonisolated(unsafe) static var hostABIMinor: UInt32 = 1
}

private let setHostABI: @convention(c) (UInt32, UInt32) -> Void = { _, minor in PluginExport.hostABIMinor = minor }

/// The request as this plugin's struct has it: fields appended after 1.1 are read only when the
/// host's struct has them, never past the end of an older host's request. Fields are read one
/// by one (a whole-struct copy would read past an older host's request).
private func hostRequest(_ request: UnsafePointer<recsys_request>) -> recsys_request {
  let hasExclusions = PluginExport.hostABIMinor >= 2
  return recsys_request(
    history_item_ids: request.pointee.history_item_ids, history_types: request.pointee.history_types,
    history_count: request.pointee.history_count, candidate_item_ids: request.pointee.candidate_item_ids,
    candidate_count: request.pointee.candidate_count, candidate_features: request.pointee.candidate_features,
    candidate_feature_count: request.pointee.candidate_feature_count, context: request.pointee.context,
    context_count: request.pointee.context_count, top_k: request.pointee.top_k,
    exclude_history: request.pointee.exclude_history, seed: request.pointee.seed, cancelled: request.pointee.cancelled,
    excluded_sets: hasExclusions ? request.pointee.excluded_sets : nil,
    excluded_set_count: hasExclusions ? request.pointee.excluded_set_count : 0)
}

private nonisolated(unsafe) var registration: UnsafeMutablePointer<recsys_plugin>?
private nonisolated(unsafe) var exportedType: (any RecommenderModel.Type)?

/// What an opaque `recsys_instance *` points at.
private final class InstanceBox {
  let model: any RecommenderModel
  init(_ model: any RecommenderModel) { self.model = model }
}

/// Writes `message` as a NUL-terminated string, cut to the buffer.
private func report(_ message: String, into buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
  guard let buffer, capacity > 0 else { return }
  let bytes = Array(message.utf8.prefix(capacity - 1))
  for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
  buffer[bytes.count] = 0
}

private func status(of error: Error, into buffer: UnsafeMutablePointer<CChar>?, capacity: Int) -> recsys_status {
  if let error = error as? ModelError {
    report(error.message, into: buffer, capacity: capacity)
    return error.code
  }
  report("\(error)", into: buffer, capacity: capacity)
  return RECSYS_INTERNAL
}

private let createInstance: @convention(c) (
  UnsafePointer<recsys_model_config>?, UnsafeMutablePointer<OpaquePointer?>?, UnsafeMutablePointer<CChar>?, Int
) -> recsys_status = { config, out, errorBuffer, capacity in
  guard let config, let out, let type = exportedType else {
    report("create() called before recsys_plugin_entry() or with NULL arguments", into: errorBuffer, capacity: capacity)
    return RECSYS_INTERNAL
  }
  out.pointee = nil
  do {
    let manifest = try Manifest(json: String(cString: config.pointee.manifest_json))
    let tensors = Tensors(config.pointee)
    let model = try type.init(manifest: manifest, tensors: tensors)
    // A tensor the model never read is a file that does not match the manifest (a layer more
    // than the model has, a block beyond num_blocks): serving would silently ignore it.
    if let extra = tensors.unread.first {
      throw ModelError.invalidArgument(
        "tensor \"\(extra)\" is unexpected: a \"\(type.kind)\" model with this model.json does not use it "
          + "(remove it from the file, or fix the hyperparameters that would read it)")
    }
    out.pointee = OpaquePointer(Unmanaged.passRetained(InstanceBox(model)).toOpaque())
    return RECSYS_OK
  } catch {
    return status(of: error, into: errorBuffer, capacity: capacity)
  }
}

private let recommend: @convention(c) (
  OpaquePointer?, UnsafePointer<recsys_request>?, UnsafeMutablePointer<recsys_result>?,
  UnsafeMutablePointer<CChar>?, Int
) -> recsys_status = { instance, request, result, errorBuffer, capacity in
  guard let instance, let request, let result else {
    report("recommend() called with NULL arguments", into: errorBuffer, capacity: capacity)
    return RECSYS_INTERNAL
  }
  let box = Unmanaged<InstanceBox>.fromOpaque(UnsafeRawPointer(instance)).takeUnretainedValue()
  result.pointee.count = 0
  result.pointee.unknown_count = 0
  var recommendations = Recommendations(result)
  do {
    try box.model.recommend(Request(hostRequest(request)), into: &recommendations)
    return RECSYS_OK
  } catch {
    return status(of: error, into: errorBuffer, capacity: capacity)
  }
}

private let explain: @convention(c) (
  OpaquePointer?, UnsafePointer<recsys_request>?, UnsafeMutablePointer<recsys_explanation>?,
  UnsafeMutablePointer<CChar>?, Int
) -> recsys_status = { instance, request, explanation, errorBuffer, capacity in
  guard let instance, let request, let explanation else {
    report("explain() called with NULL arguments", into: errorBuffer, capacity: capacity)
    return RECSYS_INTERNAL
  }
  let box = Unmanaged<InstanceBox>.fromOpaque(UnsafeRawPointer(instance)).takeUnretainedValue()
  var writer = Explanation(explanation, historyCount: request.pointee.history_count)
  do {
    try box.model.explain(Request(hostRequest(request)), into: &writer)
    return RECSYS_OK
  } catch {
    return status(of: error, into: errorBuffer, capacity: capacity)
  }
}

private let destroyInstance: @convention(c) (OpaquePointer?) -> Void = { instance in
  guard let instance else { return }
  Unmanaged<InstanceBox>.fromOpaque(UnsafeRawPointer(instance)).release()
}

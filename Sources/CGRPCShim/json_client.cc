// rs_call_json: the client half of recsys_shim.h, for recsysctl. Calls any unary method whose
// proto is compiled into the shim (ModelAdmin, Recommender) with proto3 JSON in and out: the
// method's descriptor comes from protobuf's generated pool, the call goes out as raw bytes
// through grpc's GenericStub. No C++ exception leaves this file.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "recsys_shim.h"

namespace {

// The outcome of one call: a gRPC status and the response JSON (OK) or the error message.
struct Outcome {
  grpc::StatusCode code;
  std::string text;
};

Outcome Failure(grpc::StatusCode code, std::string message) { return {code, std::move(message)}; }

// "recsys.v1.ModelAdmin/ListModels" (a leading "/" is fine) -> its descriptor, or null.
const google::protobuf::MethodDescriptor *FindMethod(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  const size_t slash = name.rfind('/');
  if (slash == std::string::npos) return nullptr;
  name[slash] = '.';  // the pool names methods "recsys.v1.ModelAdmin.ListModels"
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
}

grpc::ByteBuffer ToByteBuffer(const std::string &bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool ParseByteBuffer(const grpc::ByteBuffer &buffer, google::protobuf::Message &message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice &slice : slices) bytes.append(reinterpret_cast<const char *>(slice.begin()), slice.size());
  return message.ParseFromString(bytes);
}

// Blocks until the callback API's unary call completes.
grpc::Status BlockingUnaryCall(const std::string &address, grpc::ClientContext &context, const std::string &path,
                               const grpc::ByteBuffer &request, grpc::ByteBuffer &response) {
  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::mutex mutex;
  std::condition_variable done;
  bool finished = false;
  grpc::Status status;
  stub.UnaryCall(&context, path, grpc::StubOptions(), &request, &response, [&](grpc::Status result) {
    std::lock_guard<std::mutex> lock(mutex);
    status = std::move(result);
    finished = true;
    done.notify_one();
  });
  std::unique_lock<std::mutex> lock(mutex);
  done.wait(lock, [&] { return finished; });
  return status;
}

Outcome CallJson(const char *address, const char *full_method, const char *request_json, const char *bearer_token,
                 int64_t timeout_ms) {
  if (address == nullptr || address[0] == '\0') return Failure(grpc::StatusCode::INVALID_ARGUMENT, "no address");
  if (full_method == nullptr) return Failure(grpc::StatusCode::INVALID_ARGUMENT, "no method");
  const google::protobuf::MethodDescriptor *method = FindMethod(full_method);
  if (method == nullptr) {
    return Failure(grpc::StatusCode::UNIMPLEMENTED,
                   std::string("unknown method ") + full_method +
                       " (expected package.Service/Method of a service compiled into recsys_shim, e.g. "
                       "recsys.v1.ModelAdmin/ListModels)");
  }
  if (method->client_streaming() || method->server_streaming()) {
    return Failure(grpc::StatusCode::UNIMPLEMENTED, std::string(full_method) + " is a streaming method; only unary calls are supported");
  }

  const google::protobuf::Message *request_prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->input_type());
  const google::protobuf::Message *response_prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->output_type());
  if (request_prototype == nullptr || response_prototype == nullptr) {
    return Failure(grpc::StatusCode::INTERNAL, std::string("no generated message types for ") + full_method);
  }
  std::unique_ptr<google::protobuf::Message> request(request_prototype->New());
  std::unique_ptr<google::protobuf::Message> response(response_prototype->New());

  google::protobuf::util::JsonParseOptions parse_options;
  parse_options.ignore_unknown_fields = false;
  const std::string json = request_json == nullptr || request_json[0] == '\0' ? "{}" : request_json;
  const google::protobuf::util::Status parsed = google::protobuf::util::JsonStringToMessage(json, request.get(), parse_options);
  if (!parsed.ok()) {
    return Failure(grpc::StatusCode::INVALID_ARGUMENT,
                   "the request is not a " + method->input_type()->full_name() + " in JSON: " + std::string(parsed.message()));
  }
  std::string request_bytes;
  if (!request->SerializeToString(&request_bytes)) {
    return Failure(grpc::StatusCode::INTERNAL, "cannot serialize the " + method->input_type()->full_name());
  }

  grpc::ClientContext context;
  if (timeout_ms > 0) {
    // Clamped: a far deadline in milliseconds overflows system_clock's nanoseconds.
    const int64_t bounded_ms = std::min<int64_t>(timeout_ms, int64_t{365} * 24 * 60 * 60 * 1000);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(bounded_ms));
  }
  if (bearer_token != nullptr && bearer_token[0] != '\0') {
    context.AddMetadata("authorization", std::string("Bearer ") + bearer_token);
  }
  // The wire path is "/package.Service/Method".
  const std::string path = "/" + method->service()->full_name() + "/" + method->name();
  grpc::ByteBuffer response_buffer;
  const grpc::Status status = BlockingUnaryCall(address, context, path, ToByteBuffer(request_bytes), response_buffer);
  if (!status.ok()) return Failure(status.error_code(), status.error_message());

  if (!ParseByteBuffer(response_buffer, *response)) {
    return Failure(grpc::StatusCode::INTERNAL, "the server's answer is not a " + method->output_type()->full_name());
  }
  google::protobuf::util::JsonPrintOptions print_options;
  print_options.preserve_proto_field_names = true;
  print_options.always_print_primitive_fields = true;
  std::string response_json;
  const google::protobuf::util::Status printed =
      google::protobuf::util::MessageToJsonString(*response, &response_json, print_options);
  if (!printed.ok()) {
    return Failure(grpc::StatusCode::INTERNAL, "cannot print the " + method->output_type()->full_name() +
                                                   " as JSON: " + std::string(printed.message()));
  }
  return {grpc::StatusCode::OK, std::move(response_json)};
}

// A malloc'ed, NUL-terminated copy (NULL when out of memory).
char *CopyString(const std::string &text) {
  char *copy = static_cast<char *>(std::malloc(text.size() + 1));
  if (copy == nullptr) return nullptr;
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  return copy;
}

}  // namespace

extern "C" {

int32_t rs_call_json(const char *address, const char *full_method, const char *request_json,
                     const char *bearer_token, int64_t timeout_ms, char **text) {
  if (text != nullptr) *text = nullptr;
  Outcome outcome{grpc::StatusCode::INTERNAL, std::string()};
  try {
    outcome = CallJson(address, full_method, request_json, bearer_token, timeout_ms);
  } catch (const std::exception &exception) {
    outcome.code = grpc::StatusCode::INTERNAL;
    outcome.text.clear();
    try {
      outcome.text = std::string("rs_call_json: ") + exception.what();
    } catch (...) {
    }
  } catch (...) {
    outcome.code = grpc::StatusCode::INTERNAL;
    outcome.text.clear();
  }
  if (text == nullptr) return static_cast<int32_t>(outcome.code);
  *text = CopyString(outcome.text);
  return *text == nullptr ? RS_STATUS_RESOURCE_EXHAUSTED : static_cast<int32_t>(outcome.code);
}

void rs_free(void *pointer) { std::free(pointer); }

}  // extern "C"

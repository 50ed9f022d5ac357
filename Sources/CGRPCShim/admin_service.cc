// recsys.v1.ModelAdmin: protobuf request -> proto3 JSON -> C handler; the handler answers
// later with rs_admin_finish (JSON -> protobuf response). Every call finishes exactly once;
// no C++ exception leaves this file.
//
// Lifetime of a call. grpc owns the request and response messages until the reactor's
// OnDone, and OnDone comes only after Finish. The call object is shared by grpc (until
// OnDone) and the Swift handler (until rs_admin_finish), so it counts two references and the
// last one out deletes it. Whoever comes first of rs_admin_finish and OnCancel finishes the
// call (under `mutex_`); the other finds `finished_` set and only drops its reference. So a
// client that cancels, or a server shutdown, never waits for Swift, and a late
// rs_admin_finish never touches a response message grpc already freed. An admitted call counts
// as running in the server's CallGate until OnDone, so a drain waits for its answer.
#include "admin_service.h"

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <utility>

struct rs_admin_call final : public grpc::ServerUnaryReactor {
  // `method` is a string literal; `response` belongs to grpc and lives until OnDone.
  rs_admin_call(const char *method, google::protobuf::Message *response, recsys_shim::CallGate &gate)
      : method_(method), response_(response), gate_(gate) {}

  // Swift's answer (rs_admin_finish). Does nothing once the call was cancelled.
  void Answer(int32_t code, const char *text, size_t text_length) noexcept {
    FinishOnce([&] { return AnswerStatus(code, text, text_length); });
  }

  // Drops one of the two references (grpc's in OnDone, Swift's in rs_admin_finish).
  void Release() noexcept {
    if (references_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  void OnCancel() override {
    FinishOnce([] {
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before the admin handler answered");
    });
  }

  void OnDone() override {
    gate_.Leave();
    Release();
  }

  template <typename MakeStatus>
  void FinishOnce(MakeStatus make_status) noexcept {
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (finished_) return;
      finished_ = true;
      try {
        status = make_status();
      } catch (...) {
        // std::bad_alloc while building the answer; an empty message allocates nothing.
        status = grpc::Status(grpc::StatusCode::INTERNAL, std::string());
      }
    }
    // Outside the lock: Finish may run OnDone on this thread. The caller still holds its
    // reference, so `this` outlives the call.
    Finish(std::move(status));
  }

  // Runs under `mutex_` before Finish, so `response_` is still grpc's live message.
  grpc::Status AnswerStatus(int32_t code, const char *text, size_t text_length) {
    if (code < 0 || code > grpc::StatusCode::UNAUTHENTICATED) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string("recsys shim: rs_admin_finish got the invalid status code ") +
                                                          std::to_string(code) + " for " + method_);
    }
    if (text == nullptr && text_length != 0) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string("recsys shim: rs_admin_finish got NULL text for ") + method_);
    }
    const std::string answer = text_length == 0 ? std::string() : std::string(text, text_length);
    if (code != RS_STATUS_OK) return grpc::Status(static_cast<grpc::StatusCode>(code), answer);

    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const google::protobuf::util::Status parsed =
        google::protobuf::util::JsonStringToMessage(answer, response_, options);
    if (!parsed.ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string("recsys shim: the ") + method_ +
                                                          " answer is not a " + response_->GetTypeName() +
                                                          " in JSON: " + std::string(parsed.message()));
    }
    return grpc::Status::OK;
  }

  const char *const method_;
  google::protobuf::Message *const response_;
  recsys_shim::CallGate &gate_;
  std::atomic<int> references_{2};
  std::mutex mutex_;
  bool finished_ = false;  // guarded by mutex_
};

namespace recsys_shim {

grpc::ServerUnaryReactor *AdminService::Bridge(grpc::CallbackServerContext *context, const char *method,
                                               const google::protobuf::Message &request,
                                               google::protobuf::Message *response) const {
  grpc::Status failure;
  std::string json;
  rs_admin_call *call = nullptr;
  try {
    if (!token_.Admits(*context)) {
      // The same answer for a missing and a wrong token: nothing to learn from it.
      failure = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                             "ModelAdmin needs the metadata \"authorization: Bearer <admin token>\"");
    } else if (handler_ == nullptr) {
      failure = grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this sidecar has no ModelAdmin handler");
    } else {
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      options.always_print_primitive_fields = true;
      const google::protobuf::util::Status printed =
          google::protobuf::util::MessageToJsonString(request, &json, options);
      if (!printed.ok()) {
        failure = grpc::Status(grpc::StatusCode::INTERNAL, std::string("recsys shim: cannot print the ") +
                                                               method + " request as JSON: " +
                                                               std::string(printed.message()));
      } else if (!gate_.Enter()) {
        failure = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the sidecar is shutting down");
      } else {
        try {
          call = new rs_admin_call(method, response, gate_);
        } catch (...) {
          gate_.Leave();
          throw;
        }
      }
    }
  } catch (const std::exception &exception) {
    failure = grpc::Status(grpc::StatusCode::INTERNAL, std::string("recsys shim: ") + exception.what());
  } catch (...) {
    failure = grpc::Status(grpc::StatusCode::INTERNAL, "recsys shim: unknown exception");
  }
  if (call == nullptr) {
    grpc::ServerUnaryReactor *reactor = context->DefaultReactor();
    reactor->Finish(failure);
    return reactor;
  }
  // The handler may call rs_admin_finish before it returns: grpc keeps a Finish made before
  // the reactor is returned and sends it once the reactor is bound.
  handler_(handler_context_, call, method, json.c_str(), json.size());
  return call;
}

}  // namespace recsys_shim

extern "C" {

void rs_admin_finish(rs_admin_call *call, int32_t status, const char *text, size_t text_length) {
  if (call == nullptr) return;
  call->Answer(status, text, text_length);
  call->Release();
}

}  // extern "C"

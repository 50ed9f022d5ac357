// recsys.v1.Recommender: protobuf request -> rs_recommend_request view -> C handler ->
// RecommendResponse. Every call finishes exactly once; no C++ exception leaves this file.
#include "recommender_service.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <mutex>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

struct rs_response {
  recsys::v1::RecommendResponse *message;
  recsys_shim::CancellationWatch::Call *cancellation;
  std::string error_message;
  // The first setter misuse or failure, as a literal (recording it cannot throw). The call
  // then finishes INTERNAL instead of sending a half-filled response.
  const char *failure = nullptr;
};

struct rs_feedback_response {
  recsys::v1::FeedbackResponse *message;
  std::string error_message;
  const char *failure = nullptr;
};

namespace {

// A NULL pointer is fine only for an empty range.
bool IsValidRange(const void *data, size_t count) { return data != nullptr || count == 0; }

template <typename Response>
void RecordFailure(Response *response, const char *failure) {
  if (response->failure == nullptr) response->failure = failure;
}

// Runs a setter body; an exception (in practice std::bad_alloc) fails the call instead of
// crossing into Swift.
template <typename Response, typename Body>
void RunSetter(Response *response, const char *failure, Body body) noexcept {
  try {
    body();
  } catch (...) {
    RecordFailure(response, failure);
  }
}

std::string MakeString(const char *data, size_t length) {
  return length == 0 ? std::string() : std::string(data, length);
}

rs_string MakeView(const std::string &text) { return {text.data(), text.size()}; }

// An empty RepeatedField's data() may be its arena pointer rather than NULL; Swift gets NULL.
template <typename Element>
const Element *DataOrNull(const google::protobuf::RepeatedField<Element> &field) {
  return field.empty() ? nullptr : field.data();
}

grpc::Status InternalStatus(const char *what) {
  return grpc::Status(grpc::StatusCode::INTERNAL, std::string("recsys shim: ") + what);
}

// The call's status from a handler's code: an out-of-range code or a failed setter is INTERNAL
// (grpc does not send the response message with a non-OK status).
template <typename Response>
grpc::Status HandlerStatus(const char *handler, int32_t code, const Response &handle) {
  if (code != RS_STATUS_OK) {
    if (code < 0 || code > grpc::StatusCode::UNAUTHENTICATED) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string("recsys shim: the ") + handler +
                                                          " handler returned the invalid status code " +
                                                          std::to_string(code));
    }
    return grpc::Status(static_cast<grpc::StatusCode>(code), handle.error_message);
  }
  if (handle.failure != nullptr) return InternalStatus(handle.failure);
  return grpc::Status::OK;
}

// libprotobuf logs every string field that is not UTF-8 to stderr before the parse fails. The
// caller already gets INVALID_ARGUMENT saying so; a line per bad request would let any client
// flood the sidecar's log. Other protobuf messages still go to stderr.
void IgnoreParseErrorLog(google::protobuf::LogLevel level, const char *filename, int line, const std::string &message) {
  if (message.find("when parsing a protocol buffer") != std::string::npos) return;
  std::fprintf(stderr, "[libprotobuf %d %s:%d] %s\n", static_cast<int>(level), filename, line, message.c_str());
}

// The body as `message`; INVALID_ARGUMENT saying what to fix when it does not parse. (The
// ByteBuffer is copied by reference count: parsing consumes its reader's view, not the slices.)
template <typename Message>
grpc::Status Parse(const grpc::ByteBuffer &bytes, Message &message) {
  grpc::ByteBuffer view(bytes);
  const size_t byte_count = view.Length();
  grpc::Status status = grpc::SerializationTraits<Message>::Deserialize(&view, &message);
  if (!status.ok()) return recsys_shim::UnparsableRequest(Message::descriptor()->full_name().c_str(), byte_count);
  return status;
}

template <typename Message>
grpc::Status Serialize(const Message &message, grpc::ByteBuffer &bytes) {
  bool own_buffer = false;
  grpc::Status status = grpc::SerializationTraits<Message>::Serialize(message, &bytes, &own_buffer);
  if (!status.ok()) return InternalStatus("the response could not be serialized");
  return status;
}

// An admitted call's reactor: the call counts as running in the gate until grpc is done with
// it (its status sent), so a drain never shuts grpc down under an answer still on its way.
class AdmittedReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit AdmittedReactor(recsys_shim::CallGate &gate) : gate_(gate) {}

 private:
  void OnDone() override {
    gate_.Leave();
    delete this;
  }
  // Cancellation reaches a running handler through the watch; after it, nothing is left to stop.
  void OnCancel() override {}
  // Both reactions are trivial (a counter under a mutex, a delete), so grpc may run them inline
  // where the call completes. Without this, every call's OnDone hops to grpc's executor thread:
  // a wake-up and a context switch per call, measured at ~20 % of the echo path's CPU.
  bool InternalInlineable() override { return true; }

  recsys_shim::CallGate &gate_;
};

}  // namespace

namespace recsys_shim {

void QuietParseErrorLogs() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(IgnoreParseErrorLog); });
}


grpc::ServerUnaryReactor *RecommenderService::Recommend(grpc::CallbackServerContext *context,
                                                        const grpc::ByteBuffer *request_bytes,
                                                        grpc::ByteBuffer *response_bytes) {
  if (!gate_.Enter()) {
    grpc::ServerUnaryReactor *refusal = context->DefaultReactor();
    refusal->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the sidecar is shutting down; call another instance"));
    return refusal;
  }
  grpc::ServerUnaryReactor *reactor = new (std::nothrow) AdmittedReactor(gate_);
  if (reactor == nullptr) {
    gate_.Leave();
    grpc::ServerUnaryReactor *refusal = context->DefaultReactor();
    refusal->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "recsys shim: out of memory"));
    return refusal;
  }
  grpc::Status status;
  try {
    recsys::v1::RecommendRequest request;
    recsys::v1::RecommendResponse response;
    status = Parse(*request_bytes, request);
    if (status.ok()) status = Handle(*context, request, response);
    if (status.ok()) status = Serialize(response, *response_bytes);
  } catch (const std::exception &exception) {
    status = InternalStatus(exception.what());
  } catch (...) {
    status = InternalStatus("unknown exception");
  }
  reactor->Finish(status);
  return reactor;
}

grpc::Status RecommenderService::Handle(const grpc::CallbackServerContext &context,
                                        const recsys::v1::RecommendRequest &request,
                                        recsys::v1::RecommendResponse &response) const {
  // A call whose deadline passed before it got here (a 1 ms deadline usually has) starts
  // cancelled; any other is watched until the handler returns.
  CancellationWatch::Call cancellation(context);
  return ServeRecommend(handler_, handler_context_, &watch_, cancellation, request, response);
}

grpc::Status ServeRecommend(rs_recommend_handler handler, void *handler_context, CancellationWatch *watch,
                            CancellationWatch::Call &cancellation, const recsys::v1::RecommendRequest &request,
                            recsys::v1::RecommendResponse &response) {
  // Events are a repeated message, so their fields are not contiguous: copy them into
  // parallel arrays that live until the handler returns.
  const auto &history = request.history();
  const size_t history_count = static_cast<size_t>(history.size());
  std::vector<int64_t> history_item_ids(history_count);
  std::vector<int32_t> history_types(history_count);
  std::vector<int64_t> history_timestamps_ms(history_count);
  for (size_t index = 0; index < history_count; ++index) {
    const recsys::v1::Event &event = history.Get(static_cast<int>(index));
    history_item_ids[index] = event.item_id();
    history_types[index] = static_cast<int32_t>(event.type());
    history_timestamps_ms[index] = event.timestamp_ms();
  }

  rs_recommend_request view{};
  view.request_id = MakeView(request.request_id());
  view.user_id = MakeView(request.user_id());
  view.history_item_ids = history_count == 0 ? nullptr : history_item_ids.data();
  view.history_types = history_count == 0 ? nullptr : history_types.data();
  view.history_timestamps_ms = history_count == 0 ? nullptr : history_timestamps_ms.data();
  view.history_count = history_count;
  view.candidate_item_ids = DataOrNull(request.candidate_item_ids());
  view.candidate_count = static_cast<size_t>(request.candidate_item_ids_size());
  view.candidate_features = DataOrNull(request.candidate_features());
  view.candidate_features_count = static_cast<size_t>(request.candidate_features_size());
  view.context = DataOrNull(request.context());
  view.context_count = static_cast<size_t>(request.context_size());
  view.top_k = request.top_k();
  view.surface = MakeView(request.surface());
  view.model = MakeView(request.model());
  view.exclude_history = request.exclude_history();
  view.forced_arm = MakeView(request.forced_arm());
  view.explain = request.explain();
  view.exclude_item_ids = DataOrNull(request.exclude_item_ids());
  view.exclude_item_count = static_cast<size_t>(request.exclude_item_ids_size());
  std::vector<rs_string> exclude_item_sets;
  exclude_item_sets.reserve(static_cast<size_t>(request.exclude_item_sets_size()));
  for (const std::string &name : request.exclude_item_sets()) exclude_item_sets.push_back(MakeView(name));
  view.exclude_item_sets = exclude_item_sets.empty() ? nullptr : exclude_item_sets.data();
  view.exclude_item_set_count = exclude_item_sets.size();
  response.set_bucket(-1);  // no experiment routed it, unless the handler says otherwise

  rs_response handle{&response, &cancellation, std::string(), nullptr};
  int32_t code;
  if (watch == nullptr || cancellation.CheckNow(CancellationWatch::Clock::now())) {
    code = handler(handler_context, &view, &handle);
  } else {
    WatchedScope watched(*watch, cancellation);
    code = handler(handler_context, &view, &handle);
  }
  return HandlerStatus("recommend", code, handle);
}

grpc::Status UnparsableRequest(const char *message_name, size_t byte_count) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      std::string("the request body (") + std::to_string(byte_count) + " bytes) is not a valid " +
                          message_name +
                          ": protobuf could not parse it (malformed wire format, a field of the wrong type, or a "
                          "string that is not UTF-8); build requests from protos/recsys/v1/recommender.proto");
}

grpc::ServerUnaryReactor *RecommenderService::Feedback(grpc::CallbackServerContext *context,
                                                       const grpc::ByteBuffer *request_bytes,
                                                       grpc::ByteBuffer *response_bytes) {
  grpc::ServerUnaryReactor *reactor = context->DefaultReactor();
  if (!gate_.Enter()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the sidecar is shutting down; call another instance"));
    return reactor;
  }
  grpc::Status status;
  try {
    recsys::v1::FeedbackRequest request;
    recsys::v1::FeedbackResponse response;
    status = Parse(*request_bytes, request);
    if (status.ok()) status = HandleFeedback(request, response);
    if (status.ok()) status = Serialize(response, *response_bytes);
  } catch (const std::exception &exception) {
    status = InternalStatus(exception.what());
  } catch (...) {
    status = InternalStatus("unknown exception");
  }
  // The handler is done with the call: nothing is left for a drain to wait for.
  gate_.Leave();
  reactor->Finish(status);
  return reactor;
}

grpc::Status RecommenderService::HandleFeedback(const recsys::v1::FeedbackRequest &request,
                                                recsys::v1::FeedbackResponse &response) const {
  if (feedback_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this sidecar takes no Feedback");
  }
  rs_feedback_request view{};
  view.request_id = MakeView(request.request_id());
  view.item_id = request.item_id();
  view.type = static_cast<int32_t>(request.type());
  view.value = request.value();
  rs_feedback_response handle{&response, std::string(), nullptr};
  const int32_t code = feedback_(feedback_context_, &view, &handle);
  return HandlerStatus("feedback", code, handle);
}

}  // namespace recsys_shim

extern "C" {

int32_t rs_recommend_serialized(rs_recommend_handler handler, void *handler_context, const void *bytes,
                                size_t length, char *message, size_t message_capacity) {
  recsys_shim::QuietParseErrorLogs();
  grpc::Status status;
  try {
    recsys::v1::RecommendRequest request;
    recsys::v1::RecommendResponse response;
    if (length > static_cast<size_t>(INT_MAX) || !IsValidRange(bytes, length) ||
        !request.ParseFromArray(bytes, static_cast<int>(length))) {
      status = recsys_shim::UnparsableRequest("recsys.v1.RecommendRequest", length);
    } else {
      recsys_shim::CancellationWatch::Call cancellation;
      status = recsys_shim::ServeRecommend(handler, handler_context, nullptr, cancellation, request, response);
      std::string serialized;
      if (status.ok() && !response.SerializeToString(&serialized)) status = InternalStatus("serialize failed");
    }
  } catch (const std::exception &exception) {
    status = InternalStatus(exception.what());
  } catch (...) {
    status = InternalStatus("unknown exception");
  }
  if (message != nullptr && message_capacity > 0) {
    const std::string &text = status.error_message();
    const size_t count = std::min(text.size(), message_capacity - 1);
    std::memcpy(message, text.data(), count);
    message[count] = 0;
  }
  return static_cast<int32_t>(status.error_code());
}

void rs_feedback_set_result(rs_feedback_response *response, const char *experiment, size_t experiment_length,
                            const char *arm, size_t arm_length, bool duplicate) {
  if (response == nullptr) return;
  if (!IsValidRange(experiment, experiment_length) || !IsValidRange(arm, arm_length)) {
    return RecordFailure(response, "rs_feedback_set_result: NULL experiment or arm");
  }
  RunSetter(response, "rs_feedback_set_result failed", [&] {
    response->message->set_experiment(MakeString(experiment, experiment_length));
    response->message->set_arm(MakeString(arm, arm_length));
    response->message->set_duplicate(duplicate);
  });
}

void rs_feedback_set_error(rs_feedback_response *response, const char *data, size_t length) {
  if (response == nullptr) return;
  if (!IsValidRange(data, length)) return RecordFailure(response, "rs_feedback_set_error: NULL data");
  RunSetter(response, "rs_feedback_set_error failed", [&] { response->error_message.assign(MakeString(data, length)); });
}

void rs_response_set_request_id(rs_response *response, const char *data, size_t length) {
  if (response == nullptr) return;
  if (!IsValidRange(data, length)) return RecordFailure(response, "rs_response_set_request_id: NULL data");
  RunSetter(response, "rs_response_set_request_id failed",
            [&] { response->message->set_request_id(MakeString(data, length)); });
}

void rs_response_set_model(rs_response *response, const char *data, size_t length, int64_t version) {
  if (response == nullptr) return;
  if (!IsValidRange(data, length)) return RecordFailure(response, "rs_response_set_model: NULL data");
  RunSetter(response, "rs_response_set_model failed", [&] {
    response->message->set_model(MakeString(data, length));
    response->message->set_model_version(version);
  });
}

void rs_response_set_routing(rs_response *response, const char *experiment, size_t experiment_length,
                             const char *arm, size_t arm_length, int32_t bucket) {
  if (response == nullptr) return;
  if (!IsValidRange(experiment, experiment_length) || !IsValidRange(arm, arm_length)) {
    return RecordFailure(response, "rs_response_set_routing: NULL experiment or arm");
  }
  RunSetter(response, "rs_response_set_routing failed", [&] {
    response->message->set_experiment(MakeString(experiment, experiment_length));
    response->message->set_arm(MakeString(arm, arm_length));
    response->message->set_bucket(bucket);
  });
}

void rs_response_set_items(rs_response *response, const int64_t *item_ids, const float *scores,
                           const float *propensities, size_t count) {
  if (response == nullptr) return;
  if (!IsValidRange(item_ids, count) || !IsValidRange(scores, count)) {
    return RecordFailure(response, "rs_response_set_items: NULL item_ids or scores");
  }
  if (count > static_cast<size_t>(INT_MAX)) {
    return RecordFailure(response, "rs_response_set_items: more items than a repeated field holds");
  }
  RunSetter(response, "rs_response_set_items failed", [&] {
    auto &items = *response->message->mutable_items();
    items.Clear();
    items.Reserve(static_cast<int>(count));
    for (size_t index = 0; index < count; ++index) {
      recsys::v1::ScoredItem &item = *items.Add();
      item.set_item_id(item_ids[index]);
      item.set_score(scores[index]);
      item.set_propensity(propensities == nullptr ? 1.0f : propensities[index]);
    }
  });
}

void rs_response_set_because(rs_response *response, size_t item_index, const rs_explained_event *events,
                             size_t count) {
  if (response == nullptr) return;
  if (!IsValidRange(events, count)) return RecordFailure(response, "rs_response_set_because: NULL events");
  if (item_index >= static_cast<size_t>(response->message->items_size())) {
    return RecordFailure(response, "rs_response_set_because: no such item");
  }
  RunSetter(response, "rs_response_set_because failed", [&] {
    auto &because = *response->message->mutable_items(static_cast<int>(item_index))->mutable_because();
    because.Clear();
    for (size_t index = 0; index < count; ++index) {
      recsys::v1::Because &event = *because.Add();
      event.set_item_id(events[index].item_id);
      event.set_position(events[index].position);
      event.set_type(static_cast<recsys::v1::EventType>(events[index].type));
      event.set_contribution(events[index].value);
    }
  });
}

void rs_response_set_history_attention(rs_response *response, const rs_explained_event *events, size_t count) {
  if (response == nullptr) return;
  if (!IsValidRange(events, count)) return RecordFailure(response, "rs_response_set_history_attention: NULL events");
  if (count > static_cast<size_t>(INT_MAX)) {
    return RecordFailure(response, "rs_response_set_history_attention: more events than a repeated field holds");
  }
  RunSetter(response, "rs_response_set_history_attention failed", [&] {
    auto &attention = *response->message->mutable_history_attention();
    attention.Clear();
    for (size_t index = 0; index < count; ++index) {
      recsys::v1::AttentionWeight &event = *attention.Add();
      event.set_item_id(events[index].item_id);
      event.set_position(events[index].position);
      event.set_type(static_cast<recsys::v1::EventType>(events[index].type));
      event.set_weight(events[index].value);
    }
  });
}

void rs_response_set_unknown_items(rs_response *response, const int64_t *item_ids, size_t count) {
  if (response == nullptr) return;
  if (!IsValidRange(item_ids, count)) {
    return RecordFailure(response, "rs_response_set_unknown_items: NULL item_ids");
  }
  if (count > static_cast<size_t>(INT_MAX)) {
    return RecordFailure(response, "rs_response_set_unknown_items: more items than a repeated field holds");
  }
  RunSetter(response, "rs_response_set_unknown_items failed", [&] {
    response->message->mutable_unknown_item_ids()->Assign(item_ids, item_ids + count);
  });
}

void rs_response_set_error(rs_response *response, const char *data, size_t length) {
  if (response == nullptr) return;
  if (!IsValidRange(data, length)) return RecordFailure(response, "rs_response_set_error: NULL data");
  // A failed copy leaves the message empty; the handler's status code still goes out.
  RunSetter(response, "rs_response_set_error failed",
            [&] { response->error_message.assign(MakeString(data, length)); });
}

bool rs_response_is_cancelled(const rs_response *response) {
  if (response == nullptr) return false;
  return response->cancellation->reason() != RS_STATUS_OK;
}

const volatile int32_t *rs_response_cancelled_flag(rs_response *response) {
  if (response == nullptr) return nullptr;
  return response->cancellation->flag();
}

int32_t rs_response_cancellation(const rs_response *response) {
  if (response == nullptr) return RS_STATUS_OK;
  return response->cancellation->reason();
}

}  // extern "C"

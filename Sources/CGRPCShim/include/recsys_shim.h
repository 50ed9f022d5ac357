/*
 * recsys_shim.h: the whole boundary between the grpc++ server (C++) and Swift.
 *
 * The C++ side owns every gRPC and protobuf object. Swift sees:
 *   - an opaque server handle with create / set-serving / shutdown / wait;
 *   - for each Recommend call, a read-only *view* of the parsed request (pointers
 *     and lengths into the protobuf message, valid only during the handler call);
 *   - an opaque response handle that the handler fills through setters.
 *
 * Threading: the handler runs on grpc's callback threads, several at once. It must
 * be thread-safe and must not block. It returns a gRPC status code; for any code
 * other than RS_STATUS_OK it should set a message with rs_response_set_error().
 * The shim finishes every call exactly once with that status. No C++ exception
 * crosses this header.
 */
#ifndef RECSYS_SHIM_H
#define RECSYS_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recsys_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* gRPC status codes: the shared table's (recsys_status.h, the numbers of grpc::StatusCode). */
enum {
  RS_STATUS_OK = RECSYS_STATUS_OK,
  RS_STATUS_CANCELLED = RECSYS_STATUS_CANCELLED,
  RS_STATUS_UNKNOWN = RECSYS_STATUS_UNKNOWN,
  RS_STATUS_INVALID_ARGUMENT = RECSYS_STATUS_INVALID_ARGUMENT,
  RS_STATUS_DEADLINE_EXCEEDED = RECSYS_STATUS_DEADLINE_EXCEEDED,
  RS_STATUS_NOT_FOUND = RECSYS_STATUS_NOT_FOUND,
  RS_STATUS_RESOURCE_EXHAUSTED = RECSYS_STATUS_RESOURCE_EXHAUSTED,
  RS_STATUS_FAILED_PRECONDITION = RECSYS_STATUS_FAILED_PRECONDITION,
  RS_STATUS_UNIMPLEMENTED = RECSYS_STATUS_UNIMPLEMENTED,
  RS_STATUS_INTERNAL = RECSYS_STATUS_INTERNAL,
  RS_STATUS_UNAVAILABLE = RECSYS_STATUS_UNAVAILABLE,
};

/* A string that is not NUL-terminated. */
typedef struct rs_string {
  const char *data;
  size_t length;
} rs_string;

/*
 * A parsed RecommendRequest. Repeated scalar fields point straight into the
 * protobuf message (no copies). History events are a repeated message, so the
 * shim lays them out as three parallel arrays in per-call storage.
 * Everything is valid only until the handler returns.
 */
typedef struct rs_recommend_request {
  rs_string request_id;
  rs_string user_id;
  const int64_t *history_item_ids;
  const int32_t *history_types;
  const int64_t *history_timestamps_ms;
  size_t history_count;
  const int64_t *candidate_item_ids;
  size_t candidate_count;
  const float *candidate_features; /* row-major [candidate_count x F] */
  size_t candidate_features_count;
  const float *context;
  size_t context_count;
  int32_t top_k;
  rs_string surface;
  rs_string model;
  bool exclude_history;
  rs_string forced_arm; /* "experiment_key/arm" or empty */
  bool explain;         /* fill ScoredItem.because (and history_attention) */
  const int64_t *exclude_item_ids;       /* eligibility: never return these (any order) */
  size_t exclude_item_count;
  const rs_string *exclude_item_sets;    /* names of server-side item sets never to return from */
  size_t exclude_item_set_count;
} rs_recommend_request;

/* The response of one call; filled by the handler, sent by the shim. */
typedef struct rs_response rs_response;

void rs_response_set_request_id(rs_response *response, const char *data, size_t length);
void rs_response_set_model(rs_response *response, const char *data, size_t length, int64_t version);
/* The experiment, arm and bucket that routed the call (the bucket is -1 until this is called). */
void rs_response_set_routing(rs_response *response, const char *experiment, size_t experiment_length,
                             const char *arm, size_t arm_length, int32_t bucket);
/* Replaces the items with `count` entries; `propensities` may be NULL (then all 1). */
void rs_response_set_items(rs_response *response, const int64_t *item_ids, const float *scores,
                           const float *propensities, size_t count);
/* One history event of an explanation: ScoredItem.because, or RecommendResponse.history_attention
 * (then `value` is the attention weight). */
typedef struct rs_explained_event {
  int64_t item_id;
  int32_t position;
  int32_t type;
  float value;
} rs_explained_event;
/* Sets item `item_index`'s because list (call after rs_response_set_items). */
void rs_response_set_because(rs_response *response, size_t item_index, const rs_explained_event *events,
                             size_t count);
void rs_response_set_history_attention(rs_response *response, const rs_explained_event *events, size_t count);
void rs_response_set_unknown_items(rs_response *response, const int64_t *item_ids, size_t count);
/* The message sent with a non-OK status. */
void rs_response_set_error(rs_response *response, const char *data, size_t length);
/* True once the client cancelled the call or its deadline passed: stop early. */
bool rs_response_is_cancelled(const rs_response *response);
/*
 * The call's cancellation flag, for recsys_request.cancelled: 0 while the caller waits; the
 * shim sets it to 1 (from another thread) once the client cancelled the call, its deadline
 * passed (also when it had passed before the handler started), or a server shutdown gave up
 * on it. Never NULL for a valid response; valid until the handler returns.
 */
const volatile int32_t *rs_response_cancelled_flag(rs_response *response);
/*
 * Why the flag is set: RS_STATUS_OK (it is not), RS_STATUS_DEADLINE_EXCEEDED (the call's
 * deadline passed) or RS_STATUS_CANCELLED (the client or the server gave up on it).
 */
int32_t rs_response_cancellation(const rs_response *response);

/* Handles one Recommend call; returns a gRPC status code. */
typedef int32_t (*rs_recommend_handler)(void *context, const rs_recommend_request *request,
                                        rs_response *response);

/*
 * One Recommend call without a server: `bytes` parsed as a serialized RecommendRequest, then
 * the same view and handler a call over gRPC gets (no deadline, never cancelled). Returns the
 * status a client would see; its message (or, with RS_STATUS_OK, nothing) goes into `message`
 * (capacity `message_capacity`, NUL-terminated, cut to fit). For fuzzing and tests.
 */
int32_t rs_recommend_serialized(rs_recommend_handler handler, void *handler_context, const void *bytes,
                                size_t length, char *message, size_t message_capacity);

/*
 * Feedback: what a user did with a recommended item. A plain C view like Recommend's; the
 * handler answers synchronously (it only joins the event to an in-memory window).
 */
typedef struct rs_feedback_request {
  rs_string request_id;
  int64_t item_id;
  int32_t type; /* recsys.v1.EventType */
  double value;
} rs_feedback_request;

typedef struct rs_feedback_response rs_feedback_response;

void rs_feedback_set_result(rs_feedback_response *response, const char *experiment, size_t experiment_length,
                            const char *arm, size_t arm_length, bool duplicate);
/* The message sent with a non-OK status. */
void rs_feedback_set_error(rs_feedback_response *response, const char *data, size_t length);

/* Handles one Feedback call; returns a gRPC status code. Same threading rules as Recommend. */
typedef int32_t (*rs_feedback_handler)(void *context, const rs_feedback_request *request,
                                       rs_feedback_response *response);

/*
 * ModelAdmin, bridged as JSON: admin calls are rare and may take seconds (a reload),
 * so the shim converts the request to proto3 JSON (field names as in the .proto,
 * int64 as JSON strings, default values printed) and hands it to one handler for
 * all admin methods. The handler answers *asynchronously*: it must call
 * rs_admin_finish exactly once, from any thread, possibly after it returned.
 */
typedef struct rs_admin_call rs_admin_call;

/* `method` is the RPC's short name ("ListModels"); strings are valid until the handler returns. */
typedef void (*rs_admin_handler)(void *context, rs_admin_call *call, const char *method,
                                 const char *request_json, size_t request_json_length);

/*
 * Ends an admin call. With RS_STATUS_OK, `text` is the response as proto3 JSON
 * (a JSON that does not fit the response message turns the call into INTERNAL);
 * otherwise `text` is the error message. Frees the call.
 */
void rs_admin_finish(rs_admin_call *call, int32_t status, const char *text, size_t text_length);

typedef struct rs_server_options {
  const char *listen_address;          /* "127.0.0.1:50051" (port 0 picks a free one) or "unix:/path" */
  int32_t max_receive_message_bytes;   /* <= 0: grpc's default (4 MiB) */
  rs_recommend_handler recommend;
  void *recommend_context;             /* passed back to `recommend` unchanged */
  rs_feedback_handler feedback;        /* NULL: Feedback calls finish UNIMPLEMENTED */
  void *feedback_context;
  /* ModelAdmin on its own listener (with reflection); NULL or "" serves no admin API. */
  const char *admin_listen_address;
  rs_admin_handler admin;
  void *admin_context;
  /*
   * TLS for the Recommender listener: PEM files, read and checked (the key must belong to the
   * certificate) at start. NULL or "" certificate: plaintext. The chain file may hold
   * intermediates after the leaf.
   */
  const char *tls_certificate_chain_path;
  const char *tls_private_key_path;
  /* PEM CA bundle that client certificates must chain to; NULL or "": none are asked for. */
  const char *tls_client_ca_path;
  /* With a client CA: refuse clients without a valid certificate (mTLS). */
  bool tls_require_client_certificate;
  /*
   * NULL or "": ModelAdmin takes calls without credentials (bind it to loopback or a unix
   * socket). Otherwise every ModelAdmin call must carry the metadata
   * `authorization: Bearer <token>` (compared in constant time); any other call finishes
   * UNAUTHENTICATED without reaching the admin handler. Copied at start.
   */
  const char *admin_bearer_token;
} rs_server_options;

typedef struct rs_server rs_server;

/*
 * Builds and starts the server: Recommender, grpc.health.v1.Health (NOT_SERVING
 * until rs_server_set_serving(true)) and server reflection. Returns NULL and
 * writes a message into `error` (capacity `error_capacity`) when it cannot start,
 * e.g. the address is taken or a TLS file is unreadable or does not fit.
 */
rs_server *rs_server_start(const rs_server_options *options, char *error, size_t error_capacity);
/* The port the server listens on (useful with port 0). */
int32_t rs_server_port(const rs_server *server);
/* The admin listener's port; 0 when there is none or it is a unix socket. */
int32_t rs_server_admin_port(const rs_server *server);
/* Sets the overall ("") and "recsys.v1.Recommender" health status. */
void rs_server_set_serving(rs_server *server, bool serving);
/*
 * Drains and stops both listeners: health turns NOT_SERVING for good (watchers hear it), new
 * Recommend and ModelAdmin calls finish UNAVAILABLE, and running ones get up to `deadline_ms`
 * to finish. Once none runs and refused clients have been quiet for 100 ms (or at the
 * deadline), the listeners close and whatever is left is cancelled: long-lived streams such as
 * health watches, and calls past the deadline (their cancellation flags turn 1, so plugins stop
 * early). Blocks until no handler runs.
 */
void rs_server_shutdown(rs_server *server, int64_t deadline_ms);
/* Recommend and ModelAdmin calls over the server's life, for the shutdown log. */
typedef struct rs_call_counts {
  uint64_t admitted;            /* handed to a handler (each is answered, or cut below) */
  uint64_t refused;             /* refused UNAVAILABLE while draining */
  uint64_t running_at_deadline; /* still running when the drain deadline passed: cancelled */
} rs_call_counts;
rs_call_counts rs_server_call_counts(rs_server *server);
/* Blocks until the server has shut down. */
void rs_server_wait(rs_server *server);
/* Frees the server; call after rs_server_wait. */
void rs_server_destroy(rs_server *server);

/*
 * Client side, for recsysctl: calls a unary RPC of a service compiled into the shim
 * (e.g. "recsys.v1.ModelAdmin/ListModels") with the request as proto3 JSON and gets
 * the response as proto3 JSON (field names as in the .proto). Returns the gRPC status;
 * `*text` receives the response JSON (OK) or the error message, allocated with
 * malloc: free it with rs_free. `bearer_token` may be NULL.
 */
int32_t rs_call_json(const char *address, const char *full_method, const char *request_json,
                     const char *bearer_token, int64_t timeout_ms, char **text);
void rs_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif /* RECSYS_SHIM_H */

// The server handle of recsys_shim.h: Recommender, grpc.health.v1.Health and reflection on
// one grpc++ callback server (plaintext or TLS), and optionally ModelAdmin (with reflection,
// and a bearer token when one is set) on a second one with its own listener, TCP or a unix
// socket. No C++ exception leaves this file.
#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "admin_service.h"
#include "call_gate.h"
#include "recommender_service.h"
#include "recsys_shim.h"
#include "server_credentials.h"

// The shared status table (recsys_status.h) must be grpc's numbering: codes pass from plugins
// and Swift to grpc::Status as plain integers.
#define RECSYS_SAME_AS_GRPC(name) \
  static_assert(RECSYS_STATUS_##name == static_cast<int>(grpc::StatusCode::name), #name " differs from grpc")
RECSYS_SAME_AS_GRPC(OK);
RECSYS_SAME_AS_GRPC(CANCELLED);
RECSYS_SAME_AS_GRPC(UNKNOWN);
RECSYS_SAME_AS_GRPC(INVALID_ARGUMENT);
RECSYS_SAME_AS_GRPC(DEADLINE_EXCEEDED);
RECSYS_SAME_AS_GRPC(NOT_FOUND);
RECSYS_SAME_AS_GRPC(ALREADY_EXISTS);
RECSYS_SAME_AS_GRPC(PERMISSION_DENIED);
RECSYS_SAME_AS_GRPC(RESOURCE_EXHAUSTED);
RECSYS_SAME_AS_GRPC(FAILED_PRECONDITION);
RECSYS_SAME_AS_GRPC(ABORTED);
RECSYS_SAME_AS_GRPC(OUT_OF_RANGE);
RECSYS_SAME_AS_GRPC(UNIMPLEMENTED);
RECSYS_SAME_AS_GRPC(INTERNAL);
RECSYS_SAME_AS_GRPC(UNAVAILABLE);
RECSYS_SAME_AS_GRPC(DATA_LOSS);
RECSYS_SAME_AS_GRPC(UNAUTHENTICATED);
#undef RECSYS_SAME_AS_GRPC

struct rs_server {
  // The gate and services are declared before the servers so that they are destroyed after
  // them: grpc needs a service until its server is gone, and a service its gate.
  recsys_shim::CallGate gate;
  std::unique_ptr<recsys_shim::RecommenderService> service;
  std::unique_ptr<recsys_shim::AdminService> admin_service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::Server> admin_server;  // null without an admin listener
  int32_t port = 0;
  int32_t admin_port = 0;
};

namespace {

void WriteError(char *error, size_t error_capacity, const char *format, const char *argument) {
  if (error == nullptr || error_capacity == 0) return;
  std::snprintf(error, error_capacity, format, argument);
}

// How long refused clients must have been quiet before grpc shuts down: a client that got
// UNAVAILABLE retries elsewhere within it, and a call already on its way gets refused rather than
// cancelled by grpc.
constexpr std::chrono::milliseconds kQuietPeriod{100};

// grpc's unix-socket addresses have no port: a listener there reports 0.
bool IsUnixSocket(const char *address) {
  return std::strncmp(address, "unix:", 5) == 0 || std::strncmp(address, "unix-abstract:", 14) == 0;
}

// grpc unlinks an existing socket file before it binds, so a second sidecar on the same path
// would silently take the socket from a running one (as SO_REUSEPORT would a port): refuse
// when something answers there. A stale file nobody listens on is fine; grpc replaces it.
bool IsUnixSocketInUse(const char *address) {
  if (std::strncmp(address, "unix:", 5) != 0) return false;
  const char *path = address + 5;
  if (std::strncmp(path, "//", 2) == 0) path += 2;  // "unix:///absolute/path"
  sockaddr_un socket_address{};
  socket_address.sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof(socket_address.sun_path)) return false;  // grpc reports it
  std::strcpy(socket_address.sun_path, path);
  const int descriptor = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (descriptor < 0) return false;
  const bool answered =
      connect(descriptor, reinterpret_cast<const sockaddr *>(&socket_address), sizeof(socket_address)) == 0;
  close(descriptor);
  return answered;
}

// Builds and starts a server on `address` alone; null (and `*port` 0) when it cannot listen.
// Reflection and the default health service come with every server (both are process-wide
// switches, set in rs_server_start).
std::unique_ptr<grpc::Server> StartServer(const char *address, std::shared_ptr<grpc::ServerCredentials> credentials,
                                          grpc::Service *service, int32_t max_receive_bytes, int32_t *port) {
  *port = 0;
  if (IsUnixSocketInUse(address)) return nullptr;
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(address, std::move(credentials), &selected_port);
  // grpc sets SO_REUSEPORT by default on Linux: a second sidecar on a taken port would then
  // bind and silently share it instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (max_receive_bytes > 0) builder.SetMaxReceiveMessageSize(max_receive_bytes);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (selected_port == 0 && !IsUnixSocket(address))) {
    *port = 0;
    return nullptr;  // a server that did not bind shuts down as it goes out of scope
  }
  *port = IsUnixSocket(address) ? 0 : selected_port;
  return server;
}

void ShutdownHealth(grpc::Server &server) {
  // Every status turns NOT_SERVING (watchers hear it before their streams end) and stays
  // so: a late rs_server_set_serving(true) cannot advertise a server that is going away.
  if (grpc::HealthCheckServiceInterface *health = server.GetHealthCheckService()) health->Shutdown();
}

void SetServing(rs_server &server, bool serving) {
  grpc::HealthCheckServiceInterface *health = server.server->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  health->SetServingStatus(recsys::v1::Recommender::service_full_name(), serving);
}

}  // namespace

extern "C" {

rs_server *rs_server_start(const rs_server_options *options, char *error, size_t error_capacity) {
  if (options == nullptr || options->listen_address == nullptr || options->recommend == nullptr) {
    WriteError(error, error_capacity, "%s", "rs_server_start: listen_address and recommend are required");
    return nullptr;
  }
  try {
    // Debian builds abseil without NDEBUG, so every absl::Mutex grpc takes also updates a
    // lock-order graph (deadlock detection, a debugging aid): ~3 % of the echo path's CPU.
    // Set before grpc starts any thread; bench's bare grpc++ floor server does the same.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();

    std::string credentials_error;
    std::shared_ptr<grpc::ServerCredentials> credentials =
        recsys_shim::MakeServerCredentials(*options, &credentials_error);
    if (credentials == nullptr) {
      WriteError(error, error_capacity, "%s", credentials_error.c_str());
      return nullptr;
    }

    auto server = std::make_unique<rs_server>();
    server->service =
        std::make_unique<recsys_shim::RecommenderService>(options->recommend, options->recommend_context,
                                                          options->feedback, options->feedback_context, server->gate);
    server->server = StartServer(options->listen_address, std::move(credentials), server->service.get(),
                                 options->max_receive_message_bytes, &server->port);
    if (server->server == nullptr) {
      WriteError(error, error_capacity, "cannot listen on %s (address taken or invalid)", options->listen_address);
      return nullptr;
    }
    // The default health service starts with "" SERVING and cannot be configured before
    // BuildAndStart, so for a few microseconds after the port opens "" reads SERVING.
    SetServing(*server, false);

    const char *admin_address = options->admin_listen_address;
    if (admin_address != nullptr && admin_address[0] != '\0') {
      // The admin listener has the default health service too ("" SERVING while it runs);
      // rs_server_set_serving speaks only for the Recommender listener.
      const char *token = options->admin_bearer_token;
      server->admin_service = std::make_unique<recsys_shim::AdminService>(
          options->admin, options->admin_context, token == nullptr ? std::string() : token, server->gate);
      server->admin_server = StartServer(admin_address, grpc::InsecureServerCredentials(),
                                         server->admin_service.get(), 0, &server->admin_port);
      if (server->admin_server == nullptr) {
        WriteError(error, error_capacity, "cannot listen on the admin address %s (address taken or invalid)",
                   admin_address);
        // Nothing stays running: stop the Recommender listener at once (it has said
        // NOT_SERVING since it opened) before the handle goes away.
        ShutdownHealth(*server->server);
        server->server->Shutdown(std::chrono::system_clock::now());
        server->server->Wait();
        return nullptr;
      }
    }
    return server.release();
  } catch (const std::exception &exception) {
    WriteError(error, error_capacity, "rs_server_start: %s", exception.what());
  } catch (...) {
    WriteError(error, error_capacity, "%s", "rs_server_start: unknown exception");
  }
  return nullptr;
}

int32_t rs_server_port(const rs_server *server) { return server == nullptr ? 0 : server->port; }

int32_t rs_server_admin_port(const rs_server *server) { return server == nullptr ? 0 : server->admin_port; }

void rs_server_set_serving(rs_server *server, bool serving) {
  if (server == nullptr) return;
  try {
    SetServing(*server, serving);
  } catch (...) {
    // Only std::bad_alloc is possible here; the previous status stays.
  }
}

void rs_server_shutdown(rs_server *server, int64_t deadline_ms) {
  if (server == nullptr) return;
  try {
    ShutdownHealth(*server->server);
    if (server->admin_server != nullptr) ShutdownHealth(*server->admin_server);
    // Clamped: a far deadline in milliseconds overflows system_clock's nanoseconds.
    const int64_t bounded_ms = std::clamp<int64_t>(deadline_ms, 0, int64_t{365} * 24 * 60 * 60 * 1000);
    const auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(bounded_ms);
    // Drain ourselves first (call_gate.h says why): new calls are refused UNAVAILABLE while
    // admitted ones, on both listeners, finish by the deadline.
    server->gate.StartDraining();
    server->gate.WaitUntilIdle(deadline, kQuietPeriod);
    // Then grpc, at once: it closes the listeners and cancels what is left: streams such as
    // health watches (which would otherwise hold the process until the deadline) and calls past
    // the deadline, whose cancellation flags then stop their plugins. Shutdown returns when every
    // handler has returned.
    const auto now = std::chrono::system_clock::now();
    server->server->Shutdown(now);
    if (server->admin_server != nullptr) server->admin_server->Shutdown(now);
  } catch (...) {
    // Only std::bad_alloc is possible here; rs_server_destroy still shuts the server down.
  }
}

rs_call_counts rs_server_call_counts(rs_server *server) {
  if (server == nullptr) return rs_call_counts{0, 0, 0};
  const recsys_shim::CallGate::Counts counts = server->gate.counts();
  return rs_call_counts{counts.admitted, counts.refused, counts.running_at_deadline};
}

void rs_server_wait(rs_server *server) {
  if (server == nullptr) return;
  try {
    server->server->Wait();
    if (server->admin_server != nullptr) server->admin_server->Wait();
  } catch (...) {
  }
}

void rs_server_destroy(rs_server *server) {
  try {
    delete server;
  } catch (...) {
  }
}

}  // extern "C"

// The server handle of recsys_shim.h: Recommender, grpc.health.v1.Health and reflection on
// one grpc++ callback server, and optionally ModelAdmin (with reflection) on a second one with
// its own listener. No C++ exception leaves this file.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>

#include "admin_service.h"
#include "recommender_service.h"
#include "recsys_shim.h"

struct rs_server {
  // Services are declared before the servers so that they are destroyed after them: grpc
  // needs a service until its server is gone.
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

// Builds and starts a server on `address` alone; null (and `*port` 0) when it cannot listen.
// Reflection and the default health service come with every server (both are process-wide
// switches, set in rs_server_start).
std::unique_ptr<grpc::Server> StartServer(const char *address, grpc::Service *service, int32_t max_receive_bytes,
                                          int32_t *port) {
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &selected_port);
  // grpc sets SO_REUSEPORT by default on Linux: a second sidecar on a taken port would then
  // bind and silently share it instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (max_receive_bytes > 0) builder.SetMaxReceiveMessageSize(max_receive_bytes);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  *port = server == nullptr ? 0 : selected_port;
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
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();

    auto server = std::make_unique<rs_server>();
    server->service =
        std::make_unique<recsys_shim::RecommenderService>(options->recommend, options->recommend_context);
    server->server = StartServer(options->listen_address, server->service.get(),
                                 options->max_receive_message_bytes, &server->port);
    if (server->server == nullptr || server->port == 0) {
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
      server->admin_service = std::make_unique<recsys_shim::AdminService>(options->admin, options->admin_context);
      server->admin_server = StartServer(admin_address, server->admin_service.get(), 0, &server->admin_port);
      if (server->admin_server == nullptr || server->admin_port == 0) {
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
    // One deadline for both: Shutdown blocks until its calls end, so the admin listener gets
    // what is left. Admin calls Swift has not answered by then are cancelled (never waited for).
    const auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(bounded_ms);
    server->server->Shutdown(deadline);
    if (server->admin_server != nullptr) server->admin_server->Shutdown(deadline);
  } catch (...) {
    // Only std::bad_alloc is possible here; rs_server_destroy still shuts the server down.
  }
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

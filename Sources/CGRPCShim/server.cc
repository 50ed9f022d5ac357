// The server handle of recsys_shim.h: Recommender, grpc.health.v1.Health and reflection on
// one grpc++ callback server. No C++ exception leaves this file.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>

#include "recommender_service.h"
#include "recsys_shim.h"

struct rs_server {
  // Declared before `server` so that it is destroyed after it: grpc needs the service
  // until the server is gone.
  std::unique_ptr<recsys_shim::RecommenderService> service;
  std::unique_ptr<grpc::Server> server;
  int32_t port = 0;
};

namespace {

void WriteError(char *error, size_t error_capacity, const char *format, const char *argument) {
  if (error == nullptr || error_capacity == 0) return;
  std::snprintf(error, error_capacity, format, argument);
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

    grpc::ServerBuilder builder;
    int selected_port = 0;
    builder.AddListeningPort(options->listen_address, grpc::InsecureServerCredentials(), &selected_port);
    // grpc sets SO_REUSEPORT by default on Linux: a second sidecar on a taken port would then
    // bind and silently share it instead of failing.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    if (options->max_receive_message_bytes > 0) {
      builder.SetMaxReceiveMessageSize(options->max_receive_message_bytes);
    }
    builder.RegisterService(server->service.get());

    server->server = builder.BuildAndStart();
    if (server->server == nullptr || selected_port == 0) {
      WriteError(error, error_capacity, "cannot listen on %s (address taken or invalid)", options->listen_address);
      return nullptr;
    }
    server->port = selected_port;
    // The default health service starts with "" SERVING and cannot be configured before
    // BuildAndStart, so for a few microseconds after the port opens "" reads SERVING.
    SetServing(*server, false);
    return server.release();
  } catch (const std::exception &exception) {
    WriteError(error, error_capacity, "rs_server_start: %s", exception.what());
  } catch (...) {
    WriteError(error, error_capacity, "%s", "rs_server_start: unknown exception");
  }
  return nullptr;
}

int32_t rs_server_port(const rs_server *server) { return server == nullptr ? 0 : server->port; }

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
    // Every status turns NOT_SERVING (watchers hear it before their streams end) and stays
    // so: a late rs_server_set_serving(true) cannot advertise a server that is going away.
    if (grpc::HealthCheckServiceInterface *health = server->server->GetHealthCheckService()) {
      health->Shutdown();
    }
    // Clamped: a far deadline in milliseconds overflows system_clock's nanoseconds.
    const int64_t bounded_ms = std::clamp<int64_t>(deadline_ms, 0, int64_t{365} * 24 * 60 * 60 * 1000);
    server->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(bounded_ms));
  } catch (...) {
    // Only std::bad_alloc is possible here; rs_server_destroy still shuts the server down.
  }
}

void rs_server_wait(rs_server *server) {
  if (server == nullptr) return;
  try {
    server->server->Wait();
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

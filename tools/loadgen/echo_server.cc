// echo_server: the transport floor for the benchmarks. A bare grpc++ callback server for
// recsys.v1.Recommender that answers like the `echo` plugin (plugins/Echo): the request's first
// top_k candidates in request order, score = -index, propensity 1, model "echo" version 1. No
// routing, no model, no validation: what any grpc++ server on this machine costs per call.
//
//   echo_server --listen 127.0.0.1:50061
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>

#include "recsys/v1/recommender.grpc.pb.h"

namespace {

class EchoService final : public recsys::v1::Recommender::CallbackService {
  grpc::ServerUnaryReactor *Recommend(grpc::CallbackServerContext *context, const recsys::v1::RecommendRequest *request,
                                      recsys::v1::RecommendResponse *response) override {
    int count = std::min<int>(std::max(request->top_k(), 0), request->candidate_item_ids_size());
    response->set_request_id(request->request_id());
    response->mutable_items()->Reserve(count);
    for (int i = 0; i < count; ++i) {
      recsys::v1::ScoredItem *item = response->add_items();
      item->set_item_id(request->candidate_item_ids(i));
      item->set_score(-static_cast<float>(i));
      item->set_propensity(1.0f);
    }
    response->set_model("echo");
    response->set_model_version(1);
    grpc::ServerUnaryReactor *reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

volatile std::sig_atomic_t stop_requested = 0;

}  // namespace

int main(int argc, char **argv) {
  std::string listen = "127.0.0.1:50061";
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--listen") listen = argv[i + 1];

  // As the sidecar does (Sources/CGRPCShim/server.cc): no abseil lock-order tracking, a
  // debugging aid Debian's abseil leaves on, so the floor is the transport at its best.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  EchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "echo_server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::printf("echo_server listening on port %d\n", port);
  std::fflush(stdout);
  std::signal(SIGTERM, [](int) { stop_requested = 1; });
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  while (!stop_requested) ::pause();
  server->Shutdown();
  return 0;
}

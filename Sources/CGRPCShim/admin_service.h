// The recsys.v1.ModelAdmin callback service; private to the shim (Swift sees only recsys_shim.h).
#ifndef RECSYS_SHIM_ADMIN_SERVICE_H
#define RECSYS_SHIM_ADMIN_SERVICE_H

#include <grpcpp/grpcpp.h>

#include <string>

#include "call_gate.h"
#include "recsys/v1/admin.grpc.pb.h"
#include "recsys_shim.h"
#include "server_credentials.h"

namespace recsys_shim {

// Bridges every ModelAdmin call to one C handler as proto3 JSON. The handler answers later
// through rs_admin_finish (admin_service.cc has the call's lifetime rules). With a token, a
// call without it finishes UNAUTHENTICATED before the handler hears of it; `gate` admits calls
// until the server drains (then they finish UNAVAILABLE).
class AdminService final : public recsys::v1::ModelAdmin::CallbackService {
 public:
  // `handler` may be NULL: every call then finishes UNIMPLEMENTED. An empty `bearer_token`
  // requires none.
  AdminService(rs_admin_handler handler, void *handler_context, const std::string &bearer_token, CallGate &gate)
      : handler_(handler), handler_context_(handler_context), token_(bearer_token), gate_(gate) {}

// One line per RPC: the override forwards to Bridge with the method's short name.
#define RECSYS_SHIM_ADMIN_RPC(Method, Response)                                              \
  grpc::ServerUnaryReactor *Method(grpc::CallbackServerContext *context,                     \
                                   const recsys::v1::Method##Request *request,               \
                                   recsys::v1::Response *response) override {                \
    return Bridge(context, #Method, *request, response);                                     \
  }

  RECSYS_SHIM_ADMIN_RPC(ListModels, ListModelsResponse)
  RECSYS_SHIM_ADMIN_RPC(ReloadModels, ReloadModelsResponse)
  RECSYS_SHIM_ADMIN_RPC(SetVersionPolicy, SetVersionPolicyResponse)
  RECSYS_SHIM_ADMIN_RPC(ListPlugins, ListPluginsResponse)
  RECSYS_SHIM_ADMIN_RPC(GetExperiments, ExperimentsStatus)
  RECSYS_SHIM_ADMIN_RPC(ReloadExperiments, ExperimentsStatus)
  RECSYS_SHIM_ADMIN_RPC(EvaluateCandidate, EvaluateCandidateResponse)
  RECSYS_SHIM_ADMIN_RPC(SetItemSet, ItemSetStatus)
  RECSYS_SHIM_ADMIN_RPC(ListItemSets, ListItemSetsResponse)

#undef RECSYS_SHIM_ADMIN_RPC

 private:
  grpc::ServerUnaryReactor *Bridge(grpc::CallbackServerContext *context, const char *method,
                                   const google::protobuf::Message &request,
                                   google::protobuf::Message *response) const;

  const rs_admin_handler handler_;
  void *const handler_context_;
  const BearerToken token_;
  CallGate &gate_;
};

}  // namespace recsys_shim

#endif  // RECSYS_SHIM_ADMIN_SERVICE_H

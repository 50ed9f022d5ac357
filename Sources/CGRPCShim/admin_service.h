// The recsys.v1.ModelAdmin callback service; private to the shim (Swift sees only recsys_shim.h).
#ifndef RECSYS_SHIM_ADMIN_SERVICE_H
#define RECSYS_SHIM_ADMIN_SERVICE_H

#include <grpcpp/grpcpp.h>

#include "recsys/v1/admin.grpc.pb.h"
#include "recsys_shim.h"

namespace recsys_shim {

// Bridges every ModelAdmin call to one C handler as proto3 JSON. The handler answers later
// through rs_admin_finish (admin_service.cc has the call's lifetime rules).
class AdminService final : public recsys::v1::ModelAdmin::CallbackService {
 public:
  // `handler` may be NULL: every call then finishes UNIMPLEMENTED.
  AdminService(rs_admin_handler handler, void *handler_context)
      : handler_(handler), handler_context_(handler_context) {}

// One line per RPC: the override forwards to Bridge with the method's short name.
#define RECSYS_SHIM_ADMIN_RPC(Method)                                                        \
  grpc::ServerUnaryReactor *Method(grpc::CallbackServerContext *context,                     \
                                   const recsys::v1::Method##Request *request,               \
                                   recsys::v1::Method##Response *response) override {        \
    return Bridge(context, #Method, *request, response);                                     \
  }

  RECSYS_SHIM_ADMIN_RPC(ListModels)
  RECSYS_SHIM_ADMIN_RPC(ReloadModels)
  RECSYS_SHIM_ADMIN_RPC(SetVersionPolicy)
  RECSYS_SHIM_ADMIN_RPC(ListPlugins)

#undef RECSYS_SHIM_ADMIN_RPC

 private:
  grpc::ServerUnaryReactor *Bridge(grpc::CallbackServerContext *context, const char *method,
                                   const google::protobuf::Message &request,
                                   google::protobuf::Message *response) const;

  const rs_admin_handler handler_;
  void *const handler_context_;
};

}  // namespace recsys_shim

#endif  // RECSYS_SHIM_ADMIN_SERVICE_H

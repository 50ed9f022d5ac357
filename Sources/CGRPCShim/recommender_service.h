// The recsys.v1.Recommender callback service; private to the shim (Swift sees only recsys_shim.h).
#ifndef RECSYS_SHIM_RECOMMENDER_SERVICE_H
#define RECSYS_SHIM_RECOMMENDER_SERVICE_H

#include <grpcpp/grpcpp.h>

#include "recsys/v1/recommender.grpc.pb.h"
#include "recsys_shim.h"

namespace recsys_shim {

// Turns each Recommend call into one call of the C handler and finishes it with the
// handler's status.
class RecommenderService final : public recsys::v1::Recommender::CallbackService {
 public:
  RecommenderService(rs_recommend_handler handler, void *handler_context)
      : handler_(handler), handler_context_(handler_context) {}

  grpc::ServerUnaryReactor *Recommend(grpc::CallbackServerContext *context,
                                      const recsys::v1::RecommendRequest *request,
                                      recsys::v1::RecommendResponse *response) override;

 private:
  grpc::Status Handle(const grpc::CallbackServerContext &context,
                      const recsys::v1::RecommendRequest &request,
                      recsys::v1::RecommendResponse &response) const;

  const rs_recommend_handler handler_;
  void *const handler_context_;
};

}  // namespace recsys_shim

#endif  // RECSYS_SHIM_RECOMMENDER_SERVICE_H

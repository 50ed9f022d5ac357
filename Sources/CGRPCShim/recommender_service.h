// The recsys.v1.Recommender callback service; private to the shim (Swift sees only recsys_shim.h).
#ifndef RECSYS_SHIM_RECOMMENDER_SERVICE_H
#define RECSYS_SHIM_RECOMMENDER_SERVICE_H

#include <grpcpp/grpcpp.h>

#include "call_gate.h"
#include "cancellation_watch.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "recsys_shim.h"

namespace recsys_shim {

// Drops libprotobuf's per-request parse complaints (the caller hears INVALID_ARGUMENT instead).
void QuietParseErrorLogs();


// Turns each Recommend call into one call of the C handler and finishes it with the
// handler's status. While the handler runs, `watch_` raises the call's cancellation flag;
// `gate` admits calls until the server drains (then they finish UNAVAILABLE).
//
// The methods take the raw bytes and parse them here: grpc's generated handler answers a body
// that does not parse with UNIMPLEMENTED and no message, which reads as "no such method".
using RawRecommenderBase = recsys::v1::Recommender::WithRawCallbackMethod_Recommend<
    recsys::v1::Recommender::WithRawCallbackMethod_Feedback<recsys::v1::Recommender::Service>>;

class RecommenderService final : public RawRecommenderBase {
 public:
  RecommenderService(rs_recommend_handler handler, void *handler_context, rs_feedback_handler feedback,
                     void *feedback_context, CallGate &gate)
      : handler_(handler),
        handler_context_(handler_context),
        feedback_(feedback),
        feedback_context_(feedback_context),
        gate_(gate) {
    QuietParseErrorLogs();
  }

  grpc::ServerUnaryReactor *Recommend(grpc::CallbackServerContext *context, const grpc::ByteBuffer *request,
                                      grpc::ByteBuffer *response) override;

  grpc::ServerUnaryReactor *Feedback(grpc::CallbackServerContext *context, const grpc::ByteBuffer *request,
                                     grpc::ByteBuffer *response) override;

 private:
  grpc::Status Handle(const grpc::CallbackServerContext &context,
                      const recsys::v1::RecommendRequest &request,
                      recsys::v1::RecommendResponse &response) const;

  grpc::Status HandleFeedback(const recsys::v1::FeedbackRequest &request,
                              recsys::v1::FeedbackResponse &response) const;

  const rs_recommend_handler handler_;
  void *const handler_context_;
  const rs_feedback_handler feedback_;
  void *const feedback_context_;
  CallGate &gate_;
  mutable CancellationWatch watch_;
};

// One Recommend call between the parsed request and the response: the request view, the C
// handler, the status. `watch` may be null (the call is then not watched for cancellation).
grpc::Status ServeRecommend(rs_recommend_handler handler, void *handler_context, CancellationWatch *watch,
                            CancellationWatch::Call &cancellation, const recsys::v1::RecommendRequest &request,
                            recsys::v1::RecommendResponse &response);

// The status for a body that is not a valid `message_name`, saying what to fix.
grpc::Status UnparsableRequest(const char *message_name, size_t byte_count);

}  // namespace recsys_shim

#endif  // RECSYS_SHIM_RECOMMENDER_SERVICE_H

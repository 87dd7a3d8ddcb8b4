#include "client/client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <string>
#include <utility>

#include "service/status/rich_status.h"

namespace otaverify {
namespace {

void ApplyCallOptions(const CallOptions& options, grpc::ClientContext& context) {
  if (options.deadline != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  }
  context.set_wait_for_ready(options.wait_for_ready);
}

// Trailers are multi-valued; the gateway sends at most one request id, so the first one wins.
std::string FirstTrailer(const grpc::ClientContext& context, absl::string_view name) {
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find(grpc::string_ref(name.data(), name.size()));
  if (it == trailers.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

Client::Client(std::shared_ptr<grpc::Channel> channel)
    : stub_(v1::OtaVerify::NewStub(std::move(channel))) {}

Client Client::Connect(absl::string_view target) {
  return Client(grpc::CreateChannel(std::string(target), grpc::InsecureChannelCredentials()));
}

absl::StatusOr<v1::CreateVerifyJobResponse> Client::CreateVerifyJob(
    const v1::CreateVerifyJobRequest& request, const CallOptions& options,
    CallMetadata* metadata) const {
  grpc::ClientContext context;
  ApplyCallOptions(options, context);
  v1::CreateVerifyJobResponse response;
  const grpc::Status status = stub_->CreateVerifyJob(&context, request, &response);
  if (metadata != nullptr) {
    metadata->upstream_request_id = FirstTrailer(context, kUpstreamRequestIdTrailer);
  }
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace otaverify

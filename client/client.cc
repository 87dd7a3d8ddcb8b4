#include "client/client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/sync_stream.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

void ApplyCallOptions(const CallOptions& options, grpc::ClientContext& context) {
  if (options.deadline != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  }
  context.set_wait_for_ready(options.wait_for_ready);
}

// How a watch ends when its replica goes away rather than when the gateway answers: the
// replica's own GATEWAY_SHUTTING_DOWN, or a stream the transport broke (no ErrorInfo: the
// gateway always sends one). This call never cancels itself except when its handler stops it,
// which returns before this is asked.
bool ReplicaLeft(const absl::Status& status) {
  const absl::optional<google::rpc::ErrorInfo> info = GetDetail<google::rpc::ErrorInfo>(status);
  if (!info.has_value()) {
    return status.code() == absl::StatusCode::kUnavailable ||
           status.code() == absl::StatusCode::kCancelled;
  }
  return status.code() == absl::StatusCode::kUnavailable &&
         info->reason() == "GATEWAY_SHUTTING_DOWN";
}

// Trailers are multi-valued; the gateway sends each of its trailers once (several upstream
// request ids travel comma-separated in one value), so the first one is the one.
std::string FirstTrailer(const grpc::ClientContext& context, absl::string_view name) {
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find(grpc::string_ref(name.data(), name.size()));
  if (it == trailers.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

CallMetadata ReadMetadata(const grpc::ClientContext& context) {
  CallMetadata metadata;
  metadata.upstream_request_id = FirstTrailer(context, kUpstreamRequestIdTrailer);
  const std::string attempts = FirstTrailer(context, "x-gateway-attempts");
  if (!attempts.empty() && !absl::SimpleAtoi(attempts, &metadata.attempts)) metadata.attempts = 0;
  return metadata;
}

}  // namespace

Client::Client(std::shared_ptr<grpc::Channel> channel)
    : stub_(v1::OtaVerify::NewStub(std::move(channel))) {}

std::string GatewayServiceConfig(const ChannelOptions& options) {
  std::string config = "{";
  if (options.round_robin)
    absl::StrAppend(&config, R"("loadBalancingConfig":[{"round_robin":{}}])");
  if (options.max_attempts > 1) {
    if (options.round_robin) absl::StrAppend(&config, ",");
    absl::StrAppend(&config, R"("methodConfig":[{"name":[)",
                    R"({"service":"otaverify.v1.OtaVerify","method":"GetFirmwareVerification"},)",
                    R"({"service":"otaverify.v1.OtaVerify","method":"GetVerifyJob"},)",
                    R"({"service":"otaverify.v1.OtaVerify","method":"CancelVerifyJob"},)",
                    R"({"service":"otaverify.v1.OtaVerify","method":"WatchVerifyJob"}],)",
                    R"("retryPolicy":{"maxAttempts":)", std::min(options.max_attempts, 5),
                    R"(,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,)",
                    R"("retryableStatusCodes":["UNAVAILABLE"]}}])");
  }
  absl::StrAppend(&config, "}");
  return config;
}

std::shared_ptr<grpc::Channel> CreateGatewayChannel(absl::string_view target,
                                                    const ChannelOptions& options) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(GatewayServiceConfig(options));
  auto millis = [](absl::Duration d) {
    return static_cast<int>(
        std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, std::numeric_limits<int>::max()));
  };
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, millis(options.keepalive_time));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, millis(options.keepalive_timeout));
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, options.max_attempts > 1 ? 1 : 0);
  return grpc::CreateCustomChannel(std::string(target), grpc::InsecureChannelCredentials(), args);
}

Client Client::Connect(absl::string_view target) { return Client(CreateGatewayChannel(target)); }

absl::StatusOr<v1::CreateVerifyJobResponse> Client::CreateVerifyJob(
    const v1::CreateVerifyJobRequest& request, const CallOptions& options,
    CallMetadata* metadata) const {
  grpc::ClientContext context;
  ApplyCallOptions(options, context);
  v1::CreateVerifyJobResponse response;
  const grpc::Status status = stub_->CreateVerifyJob(&context, request, &response);
  if (metadata != nullptr) *metadata = ReadMetadata(context);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

void Client::CreateVerifyJobAsync(const v1::CreateVerifyJobRequest& request,
                                  const CallOptions& options, CreateVerifyJobCallback done) const {
  // Owns what the call needs until its callback has run.
  struct Call {
    grpc::ClientContext context;
    v1::CreateVerifyJobRequest request;
    v1::CreateVerifyJobResponse response;
    CreateVerifyJobCallback done;
  };
  auto* call = new Call;
  call->request = request;
  call->done = std::move(done);
  ApplyCallOptions(options, call->context);
  stub_->async()->CreateVerifyJob(&call->context, &call->request, &call->response,
                                  [call](grpc::Status status) {
                                    std::unique_ptr<Call> owned(call);
                                    CallMetadata metadata = ReadMetadata(owned->context);
                                    if (!status.ok()) {
                                      std::move(owned->done)(FromGrpcStatus(status), metadata);
                                    } else {
                                      std::move(owned->done)(std::move(owned->response), metadata);
                                    }
                                  });
}

absl::StatusOr<v1::FirmwareVerification> Client::GetFirmwareVerification(
    const v1::GetFirmwareVerificationRequest& request, const CallOptions& options,
    CallMetadata* metadata) const {
  grpc::ClientContext context;
  ApplyCallOptions(options, context);
  v1::FirmwareVerification response;
  const grpc::Status status = stub_->GetFirmwareVerification(&context, request, &response);
  if (metadata != nullptr) *metadata = ReadMetadata(context);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::VerifyJob> Client::GetVerifyJob(const v1::GetVerifyJobRequest& request,
                                                   const CallOptions& options,
                                                   CallMetadata* metadata) const {
  grpc::ClientContext context;
  ApplyCallOptions(options, context);
  v1::VerifyJob response;
  const grpc::Status status = stub_->GetVerifyJob(&context, request, &response);
  if (metadata != nullptr) *metadata = ReadMetadata(context);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::CancelVerifyJobResponse> Client::CancelVerifyJob(
    const v1::CancelVerifyJobRequest& request, const CallOptions& options,
    CallMetadata* metadata) const {
  grpc::ClientContext context;
  ApplyCallOptions(options, context);
  v1::CancelVerifyJobResponse response;
  const grpc::Status status = stub_->CancelVerifyJob(&context, request, &response);
  if (metadata != nullptr) *metadata = ReadMetadata(context);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::Status Client::WatchVerifyJob(const v1::WatchVerifyJobRequest& request,
                                    const CallOptions& options, WatchVerifyJobHandler on_event,
                                    CallMetadata* metadata) const {
  // A replica that shuts down ends its watches with UNAVAILABLE GATEWAY_SHUTTING_DOWN (or, if
  // its connection goes first, the stream breaks: UNAVAILABLE or CANCELLED without the
  // gateway's details): the watch goes on through another one, within the same overall
  // deadline. Its first message is the job as it is then.
  constexpr int kMaxResumes = 10;
  const absl::Time deadline = options.deadline == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + options.deadline;
  // `resumes` counts attempts in a row that ended with no message: a watch that keeps
  // delivering may move between replicas for as long as its deadline allows.
  bool resuming = false;
  for (int resumes = 0;; ++resumes) {
    grpc::ClientContext context;
    if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
    // While resuming, wait for a replica to be reachable rather than failing at once.
    context.set_wait_for_ready(options.wait_for_ready || resuming);
    std::unique_ptr<grpc::ClientReader<v1::WatchVerifyJobResponse>> reader =
        stub_->WatchVerifyJob(&context, request);
    v1::WatchVerifyJobResponse event;
    bool stopped = false;
    bool delivered = false;
    while (reader->Read(&event)) {
      delivered = true;
      if (!on_event(event)) {
        stopped = true;
        context.TryCancel();
        // Finish may only follow a Read that returned false; after TryCancel that comes at once.
        while (reader->Read(&event)) {
        }
        break;
      }
    }
    const grpc::Status status = reader->Finish();
    if (metadata != nullptr) *metadata = ReadMetadata(context);
    // The server may have ended the stream in the moment before the cancellation; either way
    // the caller asked for the end it got.
    if (stopped) return absl::OkStatus();
    absl::Status ended = FromGrpcStatus(status);
    if (delivered) resumes = 0;
    // Only a watch that was under way moves on: a target that never answered (wrong address,
    // nothing listening) fails at once, as every other call does.
    const bool under_way = delivered || resuming;
    if (!under_way || !ReplicaLeft(ended) || resumes >= kMaxResumes || absl::Now() >= deadline) {
      return ended;
    }
    resuming = true;
    absl::SleepFor(std::min(absl::Milliseconds(100) * resumes, deadline - absl::Now()));
  }
}

}  // namespace otaverify

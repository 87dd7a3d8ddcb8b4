#include "emulator/rpc_service.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "emulator/response.h"

namespace otaverify {
namespace emulator {
namespace {

constexpr char kCreateOtaVerifyJob[] = "CreateOTAVerifyJob";

// UtcCreate: UTC with milliseconds, "2019-11-04T06:22:19.566Z" (protocol.md §6).
std::string FormatUtcMillis(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

}  // namespace

RpcHttpReply RpcService::Handle(const RpcHttpRequest& request) {
  RpcHttpReply reply;
  reply.request_id = ids_->RequestId();
  const std::string* host_header = request.Header("host");
  const std::string host = host_header == nullptr ? "" : *host_header;

  auto fail = [&](const ApiError& error, bool json, const std::string& action) {
    const Body body = RenderError(error, reply.request_id, host, action, json);
    reply.status = error.http_status;
    reply.content_type = body.content_type;
    reply.body = body.text;
    reply.outcome = error.code;
    return reply;
  };

  const absl::string_view path =
      absl::string_view(request.target).substr(0, request.target.find('?'));
  if (path != "/") {
    return fail(GatewayError(404, "InvalidApi.NotFound",
                             "Specified api is not found, please check your url and method."),
                true, "");
  }

  if (PeekVersion(request) == kStsApiVersion) {
    reply.sts = true;
    reply.action = PeekAction(request);
    StsResult result = sts_.Handle(request, reply.action, reply.request_id);
    reply.status = result.status;
    reply.content_type = std::move(result.body.content_type);
    reply.body = std::move(result.body.text);
    reply.outcome = std::move(result.outcome);
    return reply;
  }

  AuthenticatedCall call;
  std::optional<ApiError> error = authenticator_.Authenticate(request, &call);
  reply.action = call.action;
  if (error) return fail(*error, call.json, call.action);

  if (call.action != kCreateOtaVerifyJob) {
    return fail(GatewayError(404, "InvalidAction.NotFound",
                             absl::StrCat("Specified api \"", call.action,
                                          "\" is not found, please check your url and method.")),
                call.json, "");
  }

  VerifyJobSpec spec;
  if ((error = ParseVerifyJobSpec(call.business_params, &spec))) {
    return fail(*error, call.json, call.action);
  }
  VerifyJob job;
  if ((error = state_->CreateVerifyJob(spec, clock_->Now(), ids_->JobId(), &job))) {
    return fail(*error, call.json, call.action);
  }
  Doc data;
  data.Str("JobId", job.job_id).Str("UtcCreate", FormatUtcMillis(job.utc_create));
  const Body body = RenderSuccess(std::move(data), reply.request_id, call.action, call.json);
  reply.status = 200;
  reply.content_type = body.content_type;
  reply.body = body.text;
  reply.outcome = "success";
  return reply;
}

}  // namespace emulator
}  // namespace otaverify

#include "emulator/rpc_service.h"

#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/create_verify_job.h"

namespace otaverify {
namespace emulator {
namespace {

constexpr char kCreateOtaVerifyJob[] = "CreateOTAVerifyJob";
constexpr char kQueryOtaFirmware[] = "QueryOTAFirmware";
constexpr char kListOtaJobByFirmware[] = "ListOTAJobByFirmware";

// ListOTAJobByFirmware's PageSize bound (protocol.md §7).
constexpr int kMaxJobPageSize = 200;

// UtcCreate: UTC with milliseconds, "2019-11-04T06:22:19.566Z" (protocol.md §6).
std::string FormatUtcMillis(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

const std::string* Param(const AuthenticatedCall& call, const std::string& name) {
  auto it = call.business_params.find(name);
  return it == call.business_params.end() ? nullptr : &it->second;
}

std::string OptionalParam(const AuthenticatedCall& call, const std::string& name) {
  const std::string* value = Param(call, name);
  return value == nullptr ? "" : *value;
}

// A required parameter: Missing<Name> (the gateway's wording, as for CreateOTAVerifyJob).
std::optional<ApiError> RequireParam(const AuthenticatedCall& call, const std::string& name,
                                     std::string* value) {
  const std::string* found = Param(call, name);
  if (found == nullptr || found->empty()) {
    return GatewayError(400, absl::StrCat("Missing", name),
                        absl::StrCat(name, " is mandatory for this action."));
  }
  *value = *found;
  return std::nullopt;
}

// A required integer paging parameter in [min, max]: Missing<Name>, or
// InvalidParameter.<Name> (400) when it is not a decimal integer in range — the emulator's
// choice of code within the documented InvalidParameter* family (protocol.md §8).
std::optional<ApiError> RequirePagingParam(const AuthenticatedCall& call, const std::string& name,
                                           int min, int max, int* value) {
  std::string text;
  if (auto error = RequireParam(call, name, &text)) return error;
  if (!absl::SimpleAtoi(text, value) || *value < min || *value > max) {
    return GatewayError(400, absl::StrCat("InvalidParameter.", name),
                        absl::StrCat("The specified parameter ", name, " \"", text,
                                     "\" is invalid: want an integer in [", min, ", ", max, "]."));
  }
  return std::nullopt;
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

  if (call.action != kCreateOtaVerifyJob && call.action != kQueryOtaFirmware &&
      call.action != kListOtaJobByFirmware) {
    return fail(GatewayError(404, "InvalidAction.NotFound",
                             absl::StrCat("Specified api \"", call.action,
                                          "\" is not found, please check your url and method.")),
                call.json, "");
  }

  // Flow control belongs to the API gateway in front of the service, which (plausibly, as API
  // gateways do) resolves the API and authenticates the caller first — an unauthenticated
  // request names no account to charge, so a bad signature never uses up quota — and throttles
  // before the request reaches the backend: a throttled request is neither validated further
  // nor processed. Its nonce is spent all the same (authentication recorded it).
  const absl::Time now = clock_->Now();
  if (quota_->Admit(call.action, now) == QuotaDecision::kThrottled) {
    stats_->RecordThrottled(call.action);
    return fail(
        GatewayError(400, "Throttling.User", "Request was denied due to user flow control."),
        call.json, call.action);
  }
  stats_->RecordAccepted(call.action, absl::ToUnixSeconds(now));

  Doc fields;
  if (call.action == kCreateOtaVerifyJob) {
    error = CreateVerifyJob(call, now, &fields);
  } else if (call.action == kQueryOtaFirmware) {
    error = QueryFirmware(call, &fields);
  } else {
    error = ListJobsByFirmware(call, &fields);
  }
  if (error) return fail(*error, call.json, call.action);
  const Body body =
      RenderSuccessFields(std::move(fields), reply.request_id, call.action, call.json);
  reply.status = 200;
  reply.content_type = body.content_type;
  reply.body = body.text;
  reply.outcome = "success";
  return reply;
}

std::optional<ApiError> RpcService::CreateVerifyJob(const AuthenticatedCall& call, absl::Time now,
                                                    Doc* fields) {
  VerifyJobSpec spec;
  if (auto error = ParseVerifyJobSpec(call.business_params, &spec)) return error;
  VerifyJob job;
  if (auto error = state_->CreateVerifyJob(spec, now, ids_->JobId(), &job)) return error;
  Doc data;
  data.Str("JobId", job.job_id).Str("UtcCreate", FormatUtcMillis(job.utc_create));
  fields->Obj("Data", std::move(data));
  return std::nullopt;
}

// The answer is under "FirmwareInfo", not "Data" (the service's API reference; protocol.md §7).
std::optional<ApiError> RpcService::QueryFirmware(const AuthenticatedCall& call, Doc* fields) {
  std::string firmware_id;
  if (auto error = RequireParam(call, "FirmwareId", &firmware_id)) return error;
  FirmwareInfo info;
  if (auto error =
          state_->QueryFirmware(firmware_id, OptionalParam(call, "IotInstanceId"), &info)) {
    return error;
  }
  Doc doc;
  doc.Str("FirmwareId", info.firmware_id).Str("FirmwareName", info.firmware_name);
  if (!info.src_version.empty()) doc.Str("SrcVersion", info.src_version);
  doc.Str("DestVersion", info.dest_version)
      .Str("ProductKey", info.product_key)
      .Int("Status", info.status)
      .Int("VerifyProgress", info.verify_progress)
      .Int("Type", 0)  // a full package, not a diff
      .Str("UtcCreate", FormatUtcMillis(info.utc_create))
      .Str("UtcModified", FormatUtcMillis(info.utc_modified));
  fields->Obj("FirmwareInfo", std::move(doc));
  return std::nullopt;
}

std::optional<ApiError> RpcService::ListJobsByFirmware(const AuthenticatedCall& call, Doc* fields) {
  std::string firmware_id;
  int current_page = 0;
  int page_size = 0;
  if (auto error = RequireParam(call, "FirmwareId", &firmware_id)) return error;
  if (auto error = RequirePagingParam(call, "CurrentPage", 1, std::numeric_limits<int>::max(),
                                      &current_page)) {
    return error;
  }
  if (auto error = RequirePagingParam(call, "PageSize", 1, kMaxJobPageSize, &page_size)) {
    return error;
  }
  std::vector<VerifyJob> jobs;
  if (auto error =
          state_->ListJobsByFirmware(firmware_id, OptionalParam(call, "IotInstanceId"), &jobs)) {
    return error;
  }
  const int64_t total = static_cast<int64_t>(jobs.size());
  const int64_t first = static_cast<int64_t>(current_page - 1) * page_size;
  std::vector<Doc> items;
  for (int64_t i = first; i < total && i < first + page_size; ++i) {
    const VerifyJob& job = jobs[static_cast<size_t>(i)];
    Doc item;
    item.Str("JobId", job.job_id)
        .Str("JobType", job.job_type)
        .Str("JobStatus", job.job_status)
        .Str("FirmwareId", job.spec.firmware_id)
        .Str("ProductKey", job.spec.product_key)
        .Str("UtcCreate", FormatUtcMillis(job.utc_create))
        .Str("UtcModified", FormatUtcMillis(job.utc_create))
        .Str("TargetSelection", "SPECIFIC")  // a verify job names its devices
        .Str("SelectionType", "STATIC");
    items.push_back(std::move(item));
  }
  Doc data;
  data.Arr("SimpleOTAJobInfo", std::move(items));
  fields->Int("Total", total)
      .Int("PageSize", page_size)
      .Int("PageCount", (total + page_size - 1) / page_size)
      .Int("CurrentPage", current_page)
      .Obj("Data", std::move(data));
  return std::nullopt;
}

}  // namespace emulator
}  // namespace otaverify

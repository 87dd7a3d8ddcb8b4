#include "emulator/rpc_service.h"

#include <algorithm>
#include <limits>
#include <map>
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
constexpr char kQueryOtaJob[] = "QueryOTAJob";
constexpr char kListOtaTaskByJob[] = "ListOTATaskByJob";
constexpr char kCancelOtaTaskByJob[] = "CancelOTATaskByJob";

// PageSize bounds of ListOTAJobByFirmware and ListOTATaskByJob (protocol.md §7).
constexpr int kMaxJobPageSize = 200;
constexpr int kMaxTaskPageSize = 100;

bool IsIotAction(const std::string& action) {
  for (const char* known : {kCreateOtaVerifyJob, kQueryOtaFirmware, kListOtaJobByFirmware,
                            kQueryOtaJob, kListOtaTaskByJob, kCancelOtaTaskByJob}) {
    if (action == known) return true;
  }
  return false;
}

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

// ListOTATaskByJob's paging parameter: Missing<Name> (400) when absent, like the other
// required parameters; a value that is not a decimal integer in [min, max] is the business
// error iot.common.InvalidPageParams (HTTP 200), the code the IoT platform uses for bad paging.
std::optional<ApiError> RequireTaskPagingParam(const AuthenticatedCall& call,
                                               const std::string& name, int min, int max,
                                               int* value) {
  std::string text;
  if (auto error = RequireParam(call, name, &text)) return error;
  if (!absl::SimpleAtoi(text, value) || *value < min || *value > max) {
    return BusinessError("iot.common.InvalidPageParams",
                         absl::StrCat("The paging parameter ", name, " \"", text,
                                      "\" is invalid: want an integer in [", min, ", ", max, "]."));
  }
  return std::nullopt;
}

// The fields every paged list answer shares: Total, PageSize, PageCount, CurrentPage and the
// page's items wrapped in an object named after the item type (Data.SimpleOTAJobInfo[]).
void PagedAnswer(const char* item_type, std::vector<Doc> items, int64_t total, int page_size,
                 int current_page, Doc* fields) {
  Doc data;
  data.Arr(item_type, std::move(items));
  fields->Int("Total", total)
      .Int("PageSize", page_size)
      .Int("PageCount", (total + page_size - 1) / page_size)
      .Int("CurrentPage", current_page)
      .Obj("Data", std::move(data));
}

// Progress as the service sends it: a string with two decimals, "42.00" (protocol.md §7).
std::string FormatProgress(int progress) { return absl::StrCat(progress, ".00"); }

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

  if (!IsIotAction(call.action)) {
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
    error = QueryFirmware(call, now, &fields);
  } else if (call.action == kListOtaJobByFirmware) {
    error = ListJobsByFirmware(call, now, &fields);
  } else if (call.action == kQueryOtaJob) {
    error = QueryJob(call, now, &fields);
  } else if (call.action == kListOtaTaskByJob) {
    error = ListTasksByJob(call, now, &fields);
  } else {
    error = CancelTasksByJob(call, now, &fields);
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
std::optional<ApiError> RpcService::QueryFirmware(const AuthenticatedCall& call, absl::Time now,
                                                  Doc* fields) {
  std::string firmware_id;
  if (auto error = RequireParam(call, "FirmwareId", &firmware_id)) return error;
  FirmwareInfo info;
  if (auto error =
          state_->QueryFirmware(firmware_id, OptionalParam(call, "IotInstanceId"), now, &info)) {
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

std::optional<ApiError> RpcService::ListJobsByFirmware(const AuthenticatedCall& call,
                                                       absl::Time now, Doc* fields) {
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
  if (auto error = state_->ListJobsByFirmware(firmware_id, OptionalParam(call, "IotInstanceId"),
                                              now, &jobs)) {
    return error;
  }
  page_size = page_cap_->Effective(page_size);
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
        .Str("UtcModified", FormatUtcMillis(job.utc_modified))
        .Str("TargetSelection", "SPECIFIC")  // a verify job names its devices
        .Str("SelectionType", "STATIC");
    items.push_back(std::move(item));
  }
  PagedAnswer("SimpleOTAJobInfo", std::move(items), total, page_size, current_page, fields);
  return std::nullopt;
}

// QueryOTAJob (protocol.md §7; the gateway parses it with aliyun.iot.v1.QueryOTAJobResponse).
std::optional<ApiError> RpcService::QueryJob(const AuthenticatedCall& call, absl::Time now,
                                             Doc* fields) {
  std::string job_id;
  if (auto error = RequireParam(call, "JobId", &job_id)) return error;
  VerifyJob job;
  if (auto error = state_->QueryJob(job_id, OptionalParam(call, "IotInstanceId"), now, &job)) {
    return error;
  }
  Doc data;
  data.Str("JobId", job.job_id)
      .Str("JobType", job.job_type)
      .Str("JobStatus", job.job_status)
      .Str("FirmwareId", job.spec.firmware_id)
      .Str("ProductKey", job.spec.product_key);
  if (!job.src_version.empty()) data.Str("SrcVersion", job.src_version);
  data.Str("DestVersion", job.dest_version);
  if (job.spec.timeout_in_minutes.has_value()) {
    data.Int("TimeoutInMinutes", *job.spec.timeout_in_minutes);
  }
  data.Bool("NeedPush", job.spec.need_push)
      .Bool("NeedConfirm", job.spec.need_confirm)
      .Str("DownloadProtocol", job.spec.download_protocol);
  if (!job.spec.tags.empty()) {
    std::vector<Doc> tags;
    for (const auto& [key, value] : job.spec.tags) {
      Doc tag;
      tag.Str("Key", key).Str("Value", value);
      tags.push_back(std::move(tag));
    }
    Doc wrapped;
    wrapped.Arr("OtaTagDTO", std::move(tags));
    data.Obj("Tags", std::move(wrapped));
  }
  data.Str("UtcCreate", FormatUtcMillis(job.utc_create))
      .Str("UtcModified", FormatUtcMillis(job.utc_modified))
      .Str("UtcStartTime", FormatUtcMillis(job.utc_create));  // verify jobs start at once
  if (job.utc_end.has_value()) data.Str("UtcEndTime", FormatUtcMillis(*job.utc_end));
  data.Str("JobDesc", "Firmware verification")
      .Str("SelectionType", "STATIC")
      .Str("TargetSelection", "SPECIFIC");  // a verify job names its devices
  fields->Obj("Data", std::move(data));
  return std::nullopt;
}

std::optional<ApiError> RpcService::ListTasksByJob(const AuthenticatedCall& call, absl::Time now,
                                                   Doc* fields) {
  std::string job_id;
  int current_page = 0;
  int page_size = 0;
  if (auto error = RequireParam(call, "JobId", &job_id)) return error;
  if (auto error = RequireTaskPagingParam(call, "CurrentPage", 1, std::numeric_limits<int>::max(),
                                          &current_page)) {
    return error;
  }
  if (auto error = RequireTaskPagingParam(call, "PageSize", 1, kMaxTaskPageSize, &page_size)) {
    return error;
  }
  const std::string status_filter = OptionalParam(call, "TaskStatus");
  if (!status_filter.empty() && !IsTaskStatus(status_filter)) {
    return BusinessError(
        "iot.common.InvalidFormattedParameter",
        absl::StrCat("The parameter TaskStatus has an invalid value \"", status_filter, "\"."));
  }
  std::vector<std::string> device_filter;
  if (auto error = ParseListParam(call.business_params, "DeviceNames", &device_filter)) {
    return error;
  }
  VerifyJob job;
  std::vector<OtaTask> tasks;
  if (auto error =
          state_->ListTasks(job_id, OptionalParam(call, "IotInstanceId"), now, &job, &tasks)) {
    return error;
  }
  std::vector<const OtaTask*> matching;
  for (const OtaTask& task : tasks) {
    if (!status_filter.empty() && task.state.status != status_filter) continue;
    if (!device_filter.empty() && std::find(device_filter.begin(), device_filter.end(),
                                            task.device_name) == device_filter.end()) {
      continue;
    }
    matching.push_back(&task);
  }
  page_size = page_cap_->Effective(page_size);
  const int64_t total = static_cast<int64_t>(matching.size());
  const int64_t first = static_cast<int64_t>(current_page - 1) * page_size;
  std::vector<Doc> items;
  for (int64_t i = first; i < total && i < first + page_size; ++i) {
    const OtaTask& task = *matching[static_cast<size_t>(i)];
    Doc item;
    item.Str("TaskId", task.task_id)
        .Str("DeviceName", task.device_name)
        .Str("IotId", task.iot_id)
        .Str("ProductKey", job.spec.product_key)
        .Str("JobId", job.job_id);
    if (!job.src_version.empty()) item.Str("SrcVersion", job.src_version);
    item.Str("DestVersion", job.dest_version)
        .Str("Progress", FormatProgress(task.state.progress))
        .Str("TaskStatus", task.state.status)
        .Str("TaskDesc", task.state.desc);
    // The job's device timeout in minutes, as a string like Progress.
    if (job.spec.timeout_in_minutes.has_value()) {
      item.Str("Timeout", absl::StrCat(*job.spec.timeout_in_minutes));
    }
    item.Str("UtcCreate", FormatUtcMillis(task.utc_create))
        .Str("UtcModified", FormatUtcMillis(task.state.modified))
        .Str("FirmwareId", job.spec.firmware_id);
    items.push_back(std::move(item));
  }
  PagedAnswer("SimpleOTATaskInfo", std::move(items), total, page_size, current_page, fields);
  return std::nullopt;
}

// iot.ota.CancelOptionRequired (no option true) is the emulator's choice of code: no public
// list of OTA codes exists (protocol.md §8).
std::optional<ApiError> RpcService::CancelTasksByJob(const AuthenticatedCall& call, absl::Time now,
                                                     Doc*) {
  std::string job_id;
  if (auto error = RequireParam(call, "JobId", &job_id)) return error;
  CancelFlags flags;
  const std::map<std::string, std::string>& params = call.business_params;
  if (auto error = ParseBoolParam(params, "CancelScheduledTask", &flags.scheduled)) return error;
  if (auto error = ParseBoolParam(params, "CancelQueuedTask", &flags.queued)) return error;
  if (auto error = ParseBoolParam(params, "CancelInProgressTask", &flags.in_progress)) {
    return error;
  }
  if (auto error = ParseBoolParam(params, "CancelNotifiedTask", &flags.notified)) return error;
  if (auto error = ParseBoolParam(params, "CancelUnconfirmedTask", &flags.unconfirmed)) {
    return error;
  }
  if (!flags.Any()) {
    return BusinessError("iot.ota.CancelOptionRequired",
                         "At least one of CancelScheduledTask, CancelQueuedTask, "
                         "CancelInProgressTask, CancelNotifiedTask and CancelUnconfirmedTask "
                         "must be true.");
  }
  return state_->CancelTasks(job_id, OptionalParam(call, "IotInstanceId"), flags, now, nullptr);
}

}  // namespace emulator
}  // namespace otaverify

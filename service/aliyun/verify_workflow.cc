#include "service/aliyun/verify_workflow.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "aliyun/iot/v1/iot.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "service/aliyun/error_mapping.h"
#include "service/aliyun/request_rules.h"

namespace otaverify {
namespace {

// The task states a cancel can name, each with its CancelOTATaskByJob flag.
struct CancelFlag {
  v1::TaskState state;
  const char* param;
};
constexpr CancelFlag kCancelFlags[] = {
    {v1::TASK_STATE_AWAITING_CONFIRMATION, "CancelUnconfirmedTask"},
    {v1::TASK_STATE_QUEUED, "CancelQueuedTask"},
    {v1::TASK_STATE_NOTIFIED, "CancelNotifiedTask"},
    {v1::TASK_STATE_IN_PROGRESS, "CancelInProgressTask"},
};

template <typename Message>
absl::Status ParseJson(absl::string_view body, absl::string_view action, Message* out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(body.data(), body.size()), out, options)
           .ok()) {
    return absl::InternalError(
        absl::StrCat("upstream ", action, " answer is not the documented JSON"));
  }
  return absl::OkStatus();
}

RpcCall Call(const char* action, Params params, const std::string& iot_instance_id) {
  RpcCall call;
  call.action = action;
  call.params = std::move(params);
  if (!iot_instance_id.empty()) call.params.emplace_back("IotInstanceId", iot_instance_id);
  return call;
}

void SetTime(absl::string_view text, google::protobuf::Timestamp* out) {
  google::protobuf::Timestamp parsed;
  if (ParseUpstreamTime(text, &parsed)) *out = parsed;
}

template <typename Answer>
PageInfo Page(const Answer& answer, int items) {
  PageInfo info;
  info.items = items;
  info.total = answer.total();
  info.page_count = answer.page_count();
  return info;
}

}  // namespace

absl::Status ValidateGetFirmwareVerification(const v1::GetFirmwareVerificationRequest& request) {
  RequestViolations v(kQueryOTAFirmware);
  CheckId(v, "firmware_id", request.firmware_id(), /*required=*/true);
  CheckId(v, "iot_instance_id", request.iot_instance_id(), /*required=*/false);
  return v.ToStatus();
}

absl::Status ValidateJobReference(absl::string_view job_id, absl::string_view iot_instance_id,
                                  absl::string_view action) {
  RequestViolations v(action);
  CheckId(v, "job_id", std::string(job_id), /*required=*/true);
  CheckId(v, "iot_instance_id", std::string(iot_instance_id), /*required=*/false);
  return v.ToStatus();
}

absl::Status ValidateCancelVerifyJob(const v1::CancelVerifyJobRequest& request) {
  RequestViolations v(kCancelOTATaskByJob);
  CheckId(v, "job_id", request.job_id(), /*required=*/true);
  CheckId(v, "iot_instance_id", request.iot_instance_id(), /*required=*/false);
  absl::flat_hash_set<int> seen;
  for (int i = 0; i < request.task_states_size(); ++i) {
    const v1::TaskState state = request.task_states(i);
    const std::string field = absl::StrCat("task_states[", i, "]");
    const bool cancelable =
        std::any_of(std::begin(kCancelFlags), std::end(kCancelFlags),
                    [state](const CancelFlag& flag) { return flag.state == state; });
    if (!cancelable) {
      v.Add(field, absl::StrCat("must be AWAITING_CONFIRMATION, QUEUED, NOTIFIED or "
                                "IN_PROGRESS (an unfinished state), got ",
                                v1::TaskState_IsValid(state) ? v1::TaskState_Name(state)
                                                             : absl::StrCat(state)));
    } else if (!seen.insert(state).second) {
      v.Add(field, absl::StrCat("duplicate state ", v1::TaskState_Name(state)));
    }
  }
  return v.ToStatus();
}

RpcCall QueryFirmwareCall(const std::string& firmware_id, const std::string& iot_instance_id) {
  return Call(kQueryOTAFirmware, {{"FirmwareId", firmware_id}}, iot_instance_id);
}

RpcCall ListJobsByFirmwareCall(const std::string& firmware_id, const std::string& iot_instance_id,
                               int page) {
  return Call(kListOTAJobByFirmware,
              {{"FirmwareId", firmware_id},
               {"CurrentPage", absl::StrCat(page)},
               {"PageSize", absl::StrCat(kJobPageSize)}},
              iot_instance_id);
}

RpcCall QueryJobCall(const std::string& job_id, const std::string& iot_instance_id) {
  return Call(kQueryOTAJob, {{"JobId", job_id}}, iot_instance_id);
}

RpcCall ListTasksByJobCall(const std::string& job_id, const std::string& iot_instance_id,
                           int page) {
  return Call(kListOTATaskByJob,
              {{"JobId", job_id},
               {"CurrentPage", absl::StrCat(page)},
               {"PageSize", absl::StrCat(kTaskPageSize)}},
              iot_instance_id);
}

std::vector<v1::TaskState> StatesToCancel(const v1::CancelVerifyJobRequest& request) {
  std::vector<v1::TaskState> states;
  for (const CancelFlag& flag : kCancelFlags) {
    const bool asked = std::find(request.task_states().begin(), request.task_states().end(),
                                 flag.state) != request.task_states().end();
    if (asked || request.task_states().empty()) states.push_back(flag.state);
  }
  return states;
}

RpcCall CancelTasksCall(const std::string& job_id, const std::string& iot_instance_id,
                        const std::vector<v1::TaskState>& states) {
  Params params = {{"JobId", job_id}};
  for (const CancelFlag& flag : kCancelFlags) {
    const bool cancel = std::find(states.begin(), states.end(), flag.state) != states.end();
    params.emplace_back(flag.param, cancel ? "true" : "false");
  }
  return Call(kCancelOTATaskByJob, std::move(params), iot_instance_id);
}

bool NeedAnotherPage(const PageInfo& info, int page, int collected) {
  if (info.items == 0) return false;
  if (info.page_count > 0) return page < info.page_count;
  return collected < info.total;
}

absl::StatusOr<PageInfo> ParseFirmwareJobPage(absl::string_view body,
                                              std::vector<FirmwareJob>* jobs) {
  aliyun::iot::v1::ListOTAJobByFirmwareResponse answer;
  if (absl::Status parsed = ParseJson(body, kListOTAJobByFirmware, &answer); !parsed.ok()) {
    return parsed;
  }
  for (const auto& item : answer.data().simple_ota_job_info()) {
    FirmwareJob job;
    job.job_id = item.job_id();
    job.verify = item.job_type() == "VERFIY_FIRMWARE" || item.job_type() == "VERIFY_FIRMWARE";
    job.state = JobStateFromUpstream(item.job_status());
    google::protobuf::Timestamp created;
    if (ParseUpstreamTime(item.utc_create(), &created)) {
      job.create_time =
          absl::FromUnixSeconds(created.seconds()) + absl::Nanoseconds(created.nanos());
    }
    job.request_id = answer.request_id();
    jobs->push_back(std::move(job));
  }
  return Page(answer, answer.data().simple_ota_job_info_size());
}

absl::optional<FirmwareJob> NewestVerifyJob(const std::vector<FirmwareJob>& jobs,
                                            absl::Time since) {
  absl::optional<FirmwareJob> newest;
  for (const FirmwareJob& job : jobs) {
    if (!job.verify || job.job_id.empty() || job.create_time < since) continue;
    if (newest.has_value() && job.create_time < newest->create_time) continue;
    newest = job;
  }
  return newest;
}

absl::optional<FirmwareJob> ActiveVerifyJob(const std::vector<FirmwareJob>& jobs) {
  std::vector<FirmwareJob> active;
  for (const FirmwareJob& job : jobs) {
    if (job.state == v1::VERIFY_JOB_STATE_PLANNED ||
        job.state == v1::VERIFY_JOB_STATE_IN_PROGRESS) {
      active.push_back(job);
    }
  }
  return NewestVerifyJob(active);
}

absl::StatusOr<v1::FirmwareVerification> ParseFirmwareVerification(absl::string_view body) {
  aliyun::iot::v1::QueryOTAFirmwareResponse answer;
  if (absl::Status parsed = ParseJson(body, kQueryOTAFirmware, &answer); !parsed.ok()) {
    return parsed;
  }
  if (!answer.has_firmware_info()) {
    return absl::InternalError("upstream QueryOTAFirmware answer has no FirmwareInfo");
  }
  const auto& info = answer.firmware_info();
  v1::FirmwareVerification out;
  out.set_firmware_id(info.firmware_id());
  out.set_product_key(info.product_key());
  out.set_firmware_name(info.firmware_name());
  out.set_src_version(info.src_version());
  out.set_dest_version(info.dest_version());
  out.set_state(VerificationStateFromUpstream(info.status()));
  out.set_upstream_status(info.status());
  out.set_progress_percent(std::clamp(info.verify_progress(), 0, 100));
  out.set_upstream_request_id(answer.request_id());
  return out;
}

absl::StatusOr<v1::VerifyJob> ParseVerifyJob(absl::string_view body) {
  aliyun::iot::v1::QueryOTAJobResponse answer;
  if (absl::Status parsed = ParseJson(body, kQueryOTAJob, &answer); !parsed.ok()) return parsed;
  const auto& data = answer.data();
  if (data.job_id().empty()) {
    return absl::InternalError("upstream QueryOTAJob answer has no Data.JobId");
  }
  if (!data.job_type().empty() && data.job_type() != "VERFIY_FIRMWARE" &&
      data.job_type() != "VERIFY_FIRMWARE") {
    return GatewayError(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("job ", data.job_id(), " is a ", data.job_type(), " job, not a verify job"),
        "NOT_A_VERIFY_JOB", kQueryOTAJob,
        {{"job_type", data.job_type()}, {"upstream_request_id", answer.request_id()}});
  }
  v1::VerifyJob job;
  job.set_job_id(data.job_id());
  job.set_state(JobStateFromUpstream(data.job_status()));
  job.set_upstream_job_status(data.job_status());
  job.set_firmware_id(data.firmware_id());
  job.set_product_key(data.product_key());
  job.set_dest_version(data.dest_version());
  for (const auto& tag : data.tags().ota_tag_dto()) {
    v1::Tag* out = job.add_tags();
    out->set_key(tag.key());
    out->set_value(tag.value());
  }
  if (data.has_timeout_in_minutes() && data.timeout_in_minutes() > 0) {
    job.set_timeout_in_minutes(data.timeout_in_minutes());
  }
  job.set_need_push(data.has_need_push() ? data.need_push() : true);
  job.set_need_confirm(data.need_confirm());
  const std::string protocol = absl::AsciiStrToUpper(data.download_protocol());
  job.set_download_protocol(protocol == "HTTPS"  ? v1::DOWNLOAD_PROTOCOL_HTTPS
                            : protocol == "MQTT" ? v1::DOWNLOAD_PROTOCOL_MQTT
                                                 : v1::DOWNLOAD_PROTOCOL_UNSPECIFIED);
  SetTime(data.utc_create(), job.mutable_create_time());
  SetTime(data.utc_modified(), job.mutable_modify_time());
  if (!data.utc_start_time().empty()) SetTime(data.utc_start_time(), job.mutable_start_time());
  if (!data.utc_end_time().empty()) SetTime(data.utc_end_time(), job.mutable_end_time());
  return job;
}

absl::StatusOr<PageInfo> ParseTaskPage(absl::string_view body, v1::VerifyJob* job) {
  aliyun::iot::v1::ListOTATaskByJobResponse answer;
  if (absl::Status parsed = ParseJson(body, kListOTATaskByJob, &answer); !parsed.ok()) {
    return parsed;
  }
  for (const auto& item : answer.data().simple_ota_task_info()) {
    v1::DeviceTask* task = job->add_tasks();
    task->set_task_id(item.task_id());
    task->set_device_name(item.device_name());
    task->set_iot_id(item.iot_id());
    task->set_src_version(item.src_version());
    task->set_dest_version(item.dest_version());
    task->set_state(TaskStateFromUpstream(item.task_status()));
    task->set_upstream_task_status(item.task_status());
    // The JSON reader takes "NaN" and "Infinity" too: such a progress is no progress.
    task->set_progress_percent(
        std::isfinite(item.progress()) ? std::clamp(item.progress(), 0.0, 100.0) : 0.0);
    task->set_description(item.task_desc());
    SetTime(item.utc_create(), task->mutable_create_time());
    SetTime(item.utc_modified(), task->mutable_modify_time());
  }
  return Page(answer, answer.data().simple_ota_task_info_size());
}

bool TaskEnded(v1::TaskState state) {
  return state == v1::TASK_STATE_SUCCEEDED || state == v1::TASK_STATE_FAILED ||
         state == v1::TASK_STATE_CANCELED;
}

bool VerifyJobFinished(const v1::VerifyJob& job) {
  if (job.state() == v1::VERIFY_JOB_STATE_CANCELED) return true;
  if (job.state() != v1::VERIFY_JOB_STATE_COMPLETED) return false;
  return std::all_of(job.tasks().begin(), job.tasks().end(), [](const v1::DeviceTask& task) {
    return TaskEnded(task.state()) || task.state() == v1::TASK_STATE_UNSPECIFIED;
  });
}

v1::VerificationState VerificationStateFromUpstream(int status) {
  switch (status) {
    case -1:
      return v1::VERIFICATION_STATE_NOT_REQUIRED;
    case 0:
      return v1::VERIFICATION_STATE_UNVERIFIED;
    case 1:
      return v1::VERIFICATION_STATE_VERIFIED;
    case 2:
      return v1::VERIFICATION_STATE_VERIFYING;
    case 3:
      return v1::VERIFICATION_STATE_FAILED;
    default:
      return v1::VERIFICATION_STATE_UNSPECIFIED;
  }
}

v1::VerifyJobState JobStateFromUpstream(absl::string_view job_status) {
  const std::string s = absl::AsciiStrToUpper(job_status);
  if (s == "PLANNED") return v1::VERIFY_JOB_STATE_PLANNED;
  if (s == "IN_PROGRESS") return v1::VERIFY_JOB_STATE_IN_PROGRESS;
  if (s == "COMPLETED" || s == "COMPLETE") return v1::VERIFY_JOB_STATE_COMPLETED;
  if (s == "CANCELED" || s == "CANCELLED") return v1::VERIFY_JOB_STATE_CANCELED;
  return v1::VERIFY_JOB_STATE_UNSPECIFIED;
}

v1::TaskState TaskStateFromUpstream(absl::string_view task_status) {
  const std::string s = absl::AsciiStrToUpper(task_status);
  if (s == "CONFIRM") return v1::TASK_STATE_AWAITING_CONFIRMATION;
  if (s == "QUEUED") return v1::TASK_STATE_QUEUED;
  if (s == "NOTIFIED") return v1::TASK_STATE_NOTIFIED;
  if (s == "IN_PROGRESS") return v1::TASK_STATE_IN_PROGRESS;
  if (s == "SUCCEEDED") return v1::TASK_STATE_SUCCEEDED;
  if (s == "FAILED") return v1::TASK_STATE_FAILED;
  if (s == "CANCELED" || s == "CANCELLED") return v1::TASK_STATE_CANCELED;
  return v1::TASK_STATE_UNSPECIFIED;
}

bool ParseUpstreamTime(absl::string_view text, google::protobuf::Timestamp* out) {
  if (text.empty()) return false;
  return google::protobuf::util::TimeUtil::FromString(std::string(text), out);
}

}  // namespace otaverify

#include "service/aliyun/create_verify_job.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "aliyun/iot/v1/iot.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "service/aliyun/request_rules.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

constexpr int kMaxDevices = 10;
constexpr int kMaxTags = 10;
constexpr int kMaxTagKeyChars = 30;
constexpr int kMaxTagValueChars = 1024;
constexpr int kMaxTagTotalChars = 4096;
constexpr int kMaxDeviceNameChars = 128;
constexpr int kMinTimeoutMinutes = 1;
constexpr int kMaxTimeoutMinutes = 1440;

bool ValidTagKeyChars(absl::string_view key) {
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateCreateVerifyJob(const v1::CreateVerifyJobRequest& request) {
  RequestViolations v(kCreateOTAVerifyJob);
  CheckId(v, "product_key", request.product_key(), /*required=*/true);
  CheckId(v, "firmware_id", request.firmware_id(), /*required=*/true);
  CheckId(v, "iot_instance_id", request.iot_instance_id(), /*required=*/false);

  const int devices = request.target_device_names_size();
  if (devices < 1 || devices > kMaxDevices) {
    v.Add("target_device_names",
          absl::StrCat("must list 1 to ", kMaxDevices, " devices, got ", devices));
  }
  absl::flat_hash_set<absl::string_view> seen_devices;
  for (int i = 0; i < devices; ++i) {
    const std::string& name = request.target_device_names(i);
    const std::string field = absl::StrCat("target_device_names[", i, "]");
    if (name.empty()) {
      v.Add(field, "must not be empty");
    } else if (CodePoints(name) > kMaxDeviceNameChars) {
      v.Add(field, absl::StrCat("must be at most ", kMaxDeviceNameChars, " characters"));
    } else if (!seen_devices.insert(name).second) {
      v.Add(field, absl::StrCat("duplicate device name \"", name, "\""));
    }
  }

  if (request.tags_size() > kMaxTags) {
    v.Add("tags", absl::StrCat("must have at most ", kMaxTags, " tags, got ", request.tags_size()));
  }
  int tag_chars = 0;
  for (int i = 0; i < request.tags_size(); ++i) {
    const v1::Tag& tag = request.tags(i);
    const int key_chars = CodePoints(tag.key());
    const int value_chars = CodePoints(tag.value());
    tag_chars += key_chars + value_chars;
    const std::string key_field = absl::StrCat("tags[", i, "].key");
    if (key_chars < 1 || key_chars > kMaxTagKeyChars) {
      v.Add(key_field, absl::StrCat("must be 1 to ", kMaxTagKeyChars, " characters"));
    } else if (!ValidTagKeyChars(tag.key())) {
      v.Add(key_field, "may contain only letters, digits and '.'");
    }
    if (value_chars < 1 || value_chars > kMaxTagValueChars) {
      v.Add(absl::StrCat("tags[", i, "].value"),
            absl::StrCat("must be 1 to ", kMaxTagValueChars, " characters"));
    }
  }
  if (tag_chars > kMaxTagTotalChars) {
    v.Add("tags", absl::StrCat("keys and values together must be at most ", kMaxTagTotalChars,
                               " characters, got ", tag_chars));
  }

  if (request.has_timeout_in_minutes() && (request.timeout_in_minutes() < kMinTimeoutMinutes ||
                                           request.timeout_in_minutes() > kMaxTimeoutMinutes)) {
    v.Add("timeout_in_minutes",
          absl::StrCat("must be ", kMinTimeoutMinutes, " to ", kMaxTimeoutMinutes,
                       " when set, got ", request.timeout_in_minutes()));
  }
  if (!v1::DownloadProtocol_IsValid(request.download_protocol())) {
    v.Add("download_protocol",
          absl::StrCat("must be UNSPECIFIED, HTTPS or MQTT, got ", request.download_protocol()));
  }
  return v.ToStatus();
}

RpcCall CreateVerifyJobCall(const v1::CreateVerifyJobRequest& request) {
  RpcCall call;
  call.action = kCreateOTAVerifyJob;
  Params& p = call.params;
  p.emplace_back("ProductKey", request.product_key());
  p.emplace_back("FirmwareId", request.firmware_id());
  for (int i = 0; i < request.target_device_names_size(); ++i) {
    p.emplace_back(absl::StrCat("TargetDeviceName.", i + 1), request.target_device_names(i));
  }
  for (int i = 0; i < request.tags_size(); ++i) {
    p.emplace_back(absl::StrCat("Tag.", i + 1, ".Key"), request.tags(i).key());
    p.emplace_back(absl::StrCat("Tag.", i + 1, ".Value"), request.tags(i).value());
  }
  if (!request.iot_instance_id().empty())
    p.emplace_back("IotInstanceId", request.iot_instance_id());
  if (request.has_timeout_in_minutes()) {
    p.emplace_back("TimeoutInMinutes", absl::StrCat(request.timeout_in_minutes()));
  }
  if (request.has_need_push()) p.emplace_back("NeedPush", request.need_push() ? "true" : "false");
  if (request.has_need_confirm()) {
    p.emplace_back("NeedConfirm", request.need_confirm() ? "true" : "false");
  }
  switch (request.download_protocol()) {
    case v1::DOWNLOAD_PROTOCOL_HTTPS:
      p.emplace_back("DownloadProtocol", "HTTPS");
      break;
    case v1::DOWNLOAD_PROTOCOL_MQTT:
      p.emplace_back("DownloadProtocol", "MQTT");
      break;
    default:
      break;
  }
  return call;
}

absl::StatusOr<v1::CreateVerifyJobResponse> ParseCreateVerifyJobResponse(absl::string_view body) {
  aliyun::iot::v1::CreateOTAVerifyJobResponse upstream;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(body.data(), body.size()), &upstream, options)
           .ok()) {
    return absl::InternalError("upstream CreateOTAVerifyJob answer is not the documented JSON");
  }
  if (upstream.data().job_id().empty()) {
    return absl::InternalError("upstream CreateOTAVerifyJob answer has no Data.JobId");
  }
  v1::CreateVerifyJobResponse out;
  out.set_job_id(upstream.data().job_id());
  out.set_upstream_request_id(upstream.request_id());
  if (!upstream.data().utc_create().empty() &&
      !google::protobuf::util::TimeUtil::FromString(upstream.data().utc_create(),
                                                    out.mutable_create_time())) {
    return absl::InternalError(absl::StrCat(
        "upstream Data.UtcCreate \"", upstream.data().utc_create(), "\" is not an RFC 3339 time"));
  }
  return out;
}

}  // namespace otaverify

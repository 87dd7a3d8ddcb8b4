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
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

constexpr int kMaxDevices = 10;
constexpr int kMaxTags = 10;
constexpr int kMaxTagKeyChars = 30;
constexpr int kMaxTagValueChars = 1024;
constexpr int kMaxTagTotalChars = 4096;
constexpr int kMaxIdChars = 64;
constexpr int kMaxDeviceNameChars = 128;
constexpr int kMinTimeoutMinutes = 1;
constexpr int kMaxTimeoutMinutes = 1440;

// Lengths are counted in Unicode code points: the upstream documents them in characters and
// proto3 strings are valid UTF-8.
int CodePoints(absl::string_view s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool ValidTagKeyChars(absl::string_view key) {
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  return true;
}

class Violations {
 public:
  void Add(std::string field, std::string description) {
    auto* v = bad_request_.add_field_violations();
    v->set_field(std::move(field));
    v->set_description(std::move(description));
  }

  absl::Status ToStatus() const {
    if (bad_request_.field_violations_size() == 0) return absl::OkStatus();
    const auto& first = bad_request_.field_violations(0);
    std::string message = absl::StrCat(first.field(), ": ", first.description());
    if (bad_request_.field_violations_size() > 1) {
      absl::StrAppend(&message, " (and ", bad_request_.field_violations_size() - 1,
                      " more violations)");
    }
    absl::Status status = absl::InvalidArgumentError(message);
    google::rpc::ErrorInfo info;
    info.set_reason("INVALID_REQUEST");
    info.set_domain(kErrorDomain);
    (*info.mutable_metadata())["action"] = kCreateOTAVerifyJob;
    SetDetail(status, bad_request_);
    SetDetail(status, info);
    return status;
  }

 private:
  google::rpc::BadRequest bad_request_;
};

void CheckId(Violations& v, const char* field, const std::string& value, bool required) {
  if (value.empty()) {
    if (required) v.Add(field, "is required");
    return;
  }
  if (CodePoints(value) > kMaxIdChars) {
    v.Add(field, absl::StrCat("must be at most ", kMaxIdChars, " characters"));
  }
}

}  // namespace

absl::Status ValidateCreateVerifyJob(const v1::CreateVerifyJobRequest& request) {
  Violations v;
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

  if (request.has_timeout_in_minutes() &&
      (request.timeout_in_minutes() < kMinTimeoutMinutes ||
       request.timeout_in_minutes() > kMaxTimeoutMinutes)) {
    v.Add("timeout_in_minutes", absl::StrCat("must be ", kMinTimeoutMinutes, " to ",
                                             kMaxTimeoutMinutes, " when set, got ",
                                             request.timeout_in_minutes()));
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
  if (!request.iot_instance_id().empty()) p.emplace_back("IotInstanceId", request.iot_instance_id());
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
          google::protobuf::StringPiece(body.data(), body.size()), &upstream, options).ok()) {
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
    return absl::InternalError(absl::StrCat("upstream Data.UtcCreate \"",
                                            upstream.data().utc_create(),
                                            "\" is not an RFC 3339 time"));
  }
  return out;
}

void AddCreateErrorDetails(absl::Status& status, absl::string_view product_key,
                           absl::string_view firmware_id, absl::string_view iot_instance_id) {
  const absl::optional<google::rpc::ErrorInfo> info = GetDetail<google::rpc::ErrorInfo>(status);
  if (!info.has_value()) return;
  const std::string& reason = info->reason();
  const auto upstream_message = info->metadata().find("upstream_message");
  const std::string description =
      upstream_message == info->metadata().end() ? "" : upstream_message->second;
  auto resource = [&](absl::string_view type, absl::string_view name) {
    google::rpc::ResourceInfo resource_info;
    resource_info.set_resource_type(std::string(type));
    resource_info.set_resource_name(std::string(name));
    resource_info.set_description(description);
    SetDetail(status, resource_info);
  };
  if (reason == "PRODUCT_NOT_FOUND") {
    resource("iot.aliyuncs.com/Product", product_key);
  } else if (reason == "FIRMWARE_NOT_FOUND") {
    resource("iot.aliyuncs.com/OTAFirmware", firmware_id);
  } else if (reason == "IOT_INSTANCE_NOT_FOUND") {
    resource("iot.aliyuncs.com/Instance", iot_instance_id);
  } else if (reason == "DEVICE_NOT_FOUND") {
    // The upstream names the device in its message; the request may list ten.
    resource("iot.aliyuncs.com/Device", "");
  } else if (reason == "FIRMWARE_ALREADY_VERIFYING" || reason == "FIRMWARE_ALREADY_VERIFIED") {
    google::rpc::PreconditionFailure failure;
    auto* violation = failure.add_violations();
    violation->set_type("FIRMWARE_VERIFICATION_STATE");
    violation->set_subject(absl::StrCat("firmware:", firmware_id));
    violation->set_description(reason == "FIRMWARE_ALREADY_VERIFYING"
                                   ? "the firmware is being verified; follow its current "
                                     "verify job instead of creating another"
                                   : "the firmware is verified already; it needs no verify job");
    SetDetail(status, failure);
  }
}

RpcCall ListVerifyJobsCall(const std::string& firmware_id, const std::string& iot_instance_id) {
  RpcCall call;
  call.action = "ListOTAJobByFirmware";
  call.params = {{"FirmwareId", firmware_id}, {"CurrentPage", "1"}, {"PageSize", "200"}};
  if (!iot_instance_id.empty()) call.params.emplace_back("IotInstanceId", iot_instance_id);
  return call;
}

RpcCall QueryFirmwareCall(const std::string& firmware_id, const std::string& iot_instance_id) {
  RpcCall call;
  call.action = "QueryOTAFirmware";
  call.params = {{"FirmwareId", firmware_id}};
  if (!iot_instance_id.empty()) call.params.emplace_back("IotInstanceId", iot_instance_id);
  return call;
}

absl::StatusOr<absl::optional<v1::CreateVerifyJobResponse>> FindVerifyJobCreatedSince(
    absl::string_view body, absl::Time since) {
  aliyun::iot::v1::ListOTAJobByFirmwareResponse upstream;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(body.data(), body.size()), &upstream, options)
           .ok()) {
    return absl::InternalError("upstream ListOTAJobByFirmware answer is not the documented JSON");
  }
  absl::optional<v1::CreateVerifyJobResponse> newest;
  for (const auto& job : upstream.data().simple_ota_job_info()) {
    if (job.job_type() != "VERFIY_FIRMWARE" && job.job_type() != "VERIFY_FIRMWARE") continue;
    google::protobuf::Timestamp created;
    if (!google::protobuf::util::TimeUtil::FromString(job.utc_create(), &created)) continue;
    const absl::Time created_at =
        absl::FromUnixSeconds(created.seconds()) + absl::Nanoseconds(created.nanos());
    if (created_at < since) continue;
    if (newest.has_value() && created < newest->create_time()) continue;
    newest.emplace();
    newest->set_job_id(job.job_id());
    *newest->mutable_create_time() = created;
    newest->set_upstream_request_id(upstream.request_id());
  }
  return newest;
}

absl::StatusOr<int> ParseFirmwareVerifyStatus(absl::string_view body) {
  aliyun::iot::v1::QueryOTAFirmwareResponse upstream;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(body.data(), body.size()), &upstream, options)
           .ok() ||
      !upstream.has_firmware_info()) {
    return absl::InternalError("upstream QueryOTAFirmware answer is not the documented JSON");
  }
  return upstream.firmware_info().status();
}

}  // namespace otaverify

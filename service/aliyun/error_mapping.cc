#include "service/aliyun/error_mapping.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "aliyun/iot/v1/iot.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "service/common/json.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

using absl::StatusCode;

struct KnownCode {
  absl::string_view code;
  StatusCode status;
  absl::string_view reason;
  bool retryable;
};

// Exact codes from protocol.md §8. Checked before any family rule.
constexpr KnownCode kKnownCodes[] = {
    {"SignatureDoesNotMatch", StatusCode::kInternal, "GATEWAY_SIGNATURE_REJECTED", false},
    {"IncompleteSignature", StatusCode::kInternal, "GATEWAY_SIGNATURE_REJECTED", false},
    {"SignatureNonceUsed", StatusCode::kUnavailable, "GATEWAY_NONCE_REUSED", true},
    {"MissingSecurityToken", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {"Forbidden.AccessKeyDisabled", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {"Rejected.Throttling", StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED", true},
    {"ServiceUnavailable", StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE", true},
    {"InternalError", StatusCode::kUnavailable, "UPSTREAM_INTERNAL_ERROR", true},
    {"UnsupportedParameter", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {"InvalidAction.NotFound", StatusCode::kInternal, "GATEWAY_ACTION_UNKNOWN", false},
    {"InvalidVersion", StatusCode::kInternal, "GATEWAY_ACTION_UNKNOWN", false},
    {"iot.system.SystemException", StatusCode::kUnavailable, "UPSTREAM_SYSTEM_ERROR", true},
    {"iot.system.InstanceNotFound", StatusCode::kNotFound, "IOT_INSTANCE_NOT_FOUND", false},
    {"iot.Sre.IotInstanceNotFound", StatusCode::kNotFound, "IOT_INSTANCE_NOT_FOUND", false},
    {"iot.prod.NotExistedProduct", StatusCode::kNotFound, "PRODUCT_NOT_FOUND", false},
    {"iot.prod.InvalidFormattedProductkey", StatusCode::kInvalidArgument, "INVALID_PRODUCT_KEY",
     false},
    {"iot.device.NotExistedDevice", StatusCode::kNotFound, "DEVICE_NOT_FOUND", false},
    {"iot.device.InvalidFormattedDeviceName", StatusCode::kInvalidArgument, "INVALID_DEVICE_NAME",
     false},
    {"iot.device.NoneDeviceNameElement", StatusCode::kInvalidArgument, "INVALID_DEVICE_NAME",
     false},
    {"iot.common.RamActionPermissionDeny", StatusCode::kPermissionDenied,
     "UPSTREAM_PERMISSION_DENIED", false},
    {"iot.common.AuthActionPermissionDeny", StatusCode::kPermissionDenied,
     "UPSTREAM_PERMISSION_DENIED", false},
    {"iot.common.InvalidTenant", StatusCode::kPermissionDenied, "UPSTREAM_INVALID_TENANT", false},
    {"Iot.system.BillIsOverDue", StatusCode::kFailedPrecondition, "ACCOUNT_IN_ARREARS", false},
    // No public list of iot.ota.* codes exists; these are the names the project's emulator
    // uses. A real code spelled otherwise still lands in FAILED_PRECONDITION by family.
    {"iot.ota.VerifyJobIsProcessing", StatusCode::kFailedPrecondition, "FIRMWARE_ALREADY_VERIFYING",
     false},
    {"iot.ota.FirmwareAlreadyVerified", StatusCode::kFailedPrecondition,
     "FIRMWARE_ALREADY_VERIFIED", false},
    {"iot.ota.NotExistedFirmware", StatusCode::kNotFound, "FIRMWARE_NOT_FOUND", false},
    {"iot.ota.NotExistedJob", StatusCode::kNotFound, "VERIFY_JOB_NOT_FOUND", false},
};

// Code families, matched by prefix, in order.
struct Family {
  absl::string_view prefix;
  StatusCode status;
  absl::string_view reason;
  bool retryable;
};
constexpr Family kFamilies[] = {
    {"Throttling", StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED", true},
    {"InvalidTimeStamp", StatusCode::kInternal, "GATEWAY_CLOCK_SKEW", false},
    {"InvalidAccessKeyId", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {"InvalidSecurityToken", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {"Forbidden", StatusCode::kPermissionDenied, "UPSTREAM_PERMISSION_DENIED", false},
    {"MissingParameter", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {"InvalidParameter", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {"Missing", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
};

bool ContainsAny(absl::string_view haystack, std::initializer_list<absl::string_view> needles) {
  const std::string lower = absl::AsciiStrToLower(haystack);
  for (absl::string_view n : needles) {
    if (absl::StrContains(lower, absl::AsciiStrToLower(n))) return true;
  }
  return false;
}

// Business-layer codes nobody documented: decide by the words they are made of.
ErrorClass ClassifyIotFamily(absl::string_view code) {
  if (ContainsAny(code, {"NotExist", "NotFound"})) {
    return {StatusCode::kNotFound, "UPSTREAM_NOT_FOUND", false};
  }
  if (ContainsAny(code, {"Permission", "Deny", "Forbidden"})) {
    return {StatusCode::kPermissionDenied, "UPSTREAM_PERMISSION_DENIED", false};
  }
  // Before the transient words: "InvalidTimeoutInMinutes" is a bad argument, not a timeout.
  if (ContainsAny(code, {"Invalid", "Format", "Illegal", "Missing", "Exceed", "TooLong"})) {
    return {StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false};
  }
  if (ContainsAny(code, {"SystemException", "Busy", "Timeout"})) {
    return {StatusCode::kUnavailable, "UPSTREAM_SYSTEM_ERROR", true};
  }
  // The service understood the request and refused it in its current state.
  return {StatusCode::kFailedPrecondition, "UPSTREAM_BUSINESS_ERROR", false};
}

ErrorClass ClassifyByHttpStatus(int http_status) {
  if (http_status == 429) return {StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED", true};
  if (http_status >= 500) return {StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE", true};
  switch (http_status) {
    case 400:
      return {StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false};
    case 401:
      return {StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false};
    case 403:
      return {StatusCode::kPermissionDenied, "UPSTREAM_PERMISSION_DENIED", false};
    case 404:
      return {StatusCode::kNotFound, "UPSTREAM_NOT_FOUND", false};
    case 409:
      return {StatusCode::kAborted, "UPSTREAM_CONFLICT", false};
    default:
      return {StatusCode::kUnknown, "UPSTREAM_UNKNOWN_ERROR", false};
  }
}

// Text between <tag> and </tag>, or empty.
std::string XmlElement(absl::string_view body, absl::string_view tag) {
  const std::string open = absl::StrCat("<", tag, ">");
  const std::string close = absl::StrCat("</", tag, ">");
  const size_t begin = body.find(open);
  if (begin == absl::string_view::npos) return "";
  const size_t value_begin = begin + open.size();
  const size_t end = body.find(close, value_begin);
  if (end == absl::string_view::npos) return "";
  // Raw bytes from the wire: malformed UTF-8 becomes U+FFFD, since these texts end up in proto3
  // string fields (ErrorInfo metadata), which a client cannot parse unless they are UTF-8.
  std::string text;
  AppendSanitizedUtf8(
      body.substr(value_begin, end - value_begin), &text,
      [](unsigned char c, std::string* out) { out->push_back(static_cast<char>(c)); });
  return text;
}

}  // namespace

absl::Status GatewayError(
    StatusCode code, absl::string_view message, absl::string_view reason, absl::string_view action,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>> metadata) {
  absl::Status status(code, message);
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(kErrorDomain);
  if (!action.empty()) (*info.mutable_metadata())["action"] = std::string(action);
  for (const auto& [key, value] : metadata) {
    if (!value.empty()) (*info.mutable_metadata())[std::string(key)] = std::string(value);
  }
  SetDetail(status, info);
  return status;
}

void AddRetryInfo(absl::Status& status, absl::Duration delay) {
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(absl::ToInt64Seconds(delay));
  retry.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(delay % absl::Seconds(1))));
  SetDetail(status, retry);
}

ErrorClass ClassifyUpstreamError(int http_status, absl::string_view code) {
  for (const KnownCode& known : kKnownCodes) {
    if (code == known.code) {
      return {known.status, std::string(known.reason), known.retryable};
    }
  }
  for (const Family& family : kFamilies) {
    if (absl::StartsWith(code, family.prefix)) {
      return {family.status, std::string(family.reason), family.retryable};
    }
  }
  if (absl::StartsWithIgnoreCase(code, "iot.")) return ClassifyIotFamily(code);
  return ClassifyByHttpStatus(http_status);
}

UpstreamReply ReadUpstreamReply(const HttpResponse& response, const ReplyContext& context) {
  const absl::string_view action = context.action;
  UpstreamReply reply;
  aliyun::iot::v1::Envelope envelope;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const bool json =
      google::protobuf::util::JsonStringToMessage(response.body, &envelope, options).ok();
  if (json) {
    reply.request_id = envelope.request_id();
    reply.code = envelope.code();
    reply.message =
        envelope.error_message().empty() ? envelope.message() : envelope.error_message();
  } else {
    reply.request_id = XmlElement(response.body, "RequestId");
    reply.code = XmlElement(response.body, "Code");
    reply.message = XmlElement(response.body, "Message");
  }
  const bool http_ok = response.status >= 200 && response.status < 300;
  if (http_ok && json && reply.code.empty() && !(envelope.has_success() && !envelope.success())) {
    return reply;  // success
  }
  // Redacted after parsing, so an escaped form in the body ("\/") cannot slip through.
  if (context.credentials != nullptr) {
    reply.message = RedactSecrets(std::move(reply.message), *context.credentials);
    // Code and RequestId are upstream text too, quoted in the status and its ErrorInfo. A real
    // Code never holds a secret, so this cannot change how the error is classified.
    reply.code = RedactSecrets(std::move(reply.code), *context.credentials);
    reply.request_id = RedactSecrets(std::move(reply.request_id), *context.credentials);
  }

  ErrorClass error_class;
  std::string message;
  if (!reply.code.empty()) {
    error_class = ClassifyUpstreamError(response.status, reply.code);
    message = absl::StrCat("upstream ", action, " failed: ", reply.code,
                           reply.message.empty() ? "" : ": ", reply.message);
    if (reply.code == "SignatureNonceUsed" && !context.idempotent) {
      // Every attempt has a fresh nonce, so this nonce was seen before: an earlier copy of
      // this very request reached the service (libcurl re-sends once on a connection that
      // died), and may have been processed.
      error_class = {StatusCode::kUnknown, "UPSTREAM_OUTCOME_UNKNOWN", false};
      absl::StrAppend(&message,
                      " (an earlier copy may have been processed: check before retrying)");
    }
  } else if (http_ok) {
    // A 2xx we cannot read: the upstream may have acted on it.
    error_class = {StatusCode::kUnknown, "UPSTREAM_MALFORMED_RESPONSE", false};
    message =
        absl::StrCat("upstream ", action, " answered HTTP ", response.status,
                     json ? " with Success false and no Code" : " with a body that is not JSON");
  } else {
    error_class = ClassifyByHttpStatus(response.status);
    message = absl::StrCat("upstream ", action, " answered HTTP ", response.status);
  }
  const std::string http_status = absl::StrCat(response.status);
  reply.status = GatewayError(error_class.code, message, error_class.reason, action,
                              {{"http_status", http_status},
                               {"upstream_code", reply.code},
                               {"upstream_message", reply.message},
                               {"upstream_request_id", reply.request_id}});
  if (error_class.retryable) AddRetryInfo(reply.status, absl::Seconds(1));
  reply.retryable = error_class.retryable;
  reply.outcome_unknown = error_class.reason == "UPSTREAM_OUTCOME_UNKNOWN" ||
                          error_class.reason == "UPSTREAM_MALFORMED_RESPONSE";
  reply.upstream_unhealthy = response.status >= 500 || reply.code == "ServiceUnavailable" ||
                             reply.code == "InternalError" ||
                             reply.code == "iot.system.SystemException";
  // A server-side failure may come after a create was carried out: never re-send it blindly.
  if (reply.upstream_unhealthy && !context.idempotent) reply.outcome_unknown = true;
  return reply;
}

absl::Status MapTransportFailure(const absl::Status& failure, const ReplyContext& context) {
  const absl::string_view action = context.action;
  const std::string detail = absl::StrCat("upstream ", action, ": ", failure.message());
  const bool safe_to_resend = context.idempotent || WasNotSent(failure);
  absl::Status status;
  switch (failure.code()) {
    case StatusCode::kUnavailable:
      status = GatewayError(StatusCode::kUnavailable, detail, "UPSTREAM_UNREACHABLE", action);
      AddRetryInfo(status, absl::Seconds(1));
      return status;
    case StatusCode::kCancelled:
      // The caller went away or the gateway is stopping: nobody reads this answer.
      return GatewayError(StatusCode::kCancelled, detail, "UPSTREAM_CALL_CANCELLED", action);
    case StatusCode::kResourceExhausted:
      return GatewayError(StatusCode::kInternal, detail, "UPSTREAM_RESPONSE_TOO_LARGE", action);
    case StatusCode::kDeadlineExceeded:
      if (safe_to_resend) {
        return GatewayError(StatusCode::kDeadlineExceeded, detail, "UPSTREAM_TIMEOUT", action);
      }
      return GatewayError(StatusCode::kDeadlineExceeded,
                          absl::StrCat(detail, " (the request was sent: check before retrying)"),
                          "UPSTREAM_OUTCOME_UNKNOWN", action);
    default:
      if (safe_to_resend) {
        status =
            GatewayError(StatusCode::kUnavailable, detail, "UPSTREAM_CONNECTION_FAILED", action);
        AddRetryInfo(status, absl::Seconds(1));
        return status;
      }
      return GatewayError(StatusCode::kUnknown,
                          absl::StrCat(detail, " (the request was sent: check before retrying)"),
                          "UPSTREAM_OUTCOME_UNKNOWN", action);
  }
}

void AddResourceDetails(absl::Status& status, const ResourceNames& names) {
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
    resource("iot.aliyuncs.com/Product", names.product_key);
  } else if (reason == "FIRMWARE_NOT_FOUND") {
    resource("iot.aliyuncs.com/OTAFirmware", names.firmware_id);
  } else if (reason == "IOT_INSTANCE_NOT_FOUND") {
    resource("iot.aliyuncs.com/Instance", names.iot_instance_id);
  } else if (reason == "VERIFY_JOB_NOT_FOUND") {
    resource("iot.aliyuncs.com/OTAJob", names.job_id);
  } else if (reason == "DEVICE_NOT_FOUND") {
    // The upstream names the device in its message; the request may list ten.
    resource("iot.aliyuncs.com/Device", "");
  } else if (reason == "FIRMWARE_ALREADY_VERIFYING" || reason == "FIRMWARE_ALREADY_VERIFIED") {
    google::rpc::PreconditionFailure failure;
    auto* violation = failure.add_violations();
    violation->set_type("FIRMWARE_VERIFICATION_STATE");
    violation->set_subject(absl::StrCat("firmware:", names.firmware_id));
    violation->set_description(reason == "FIRMWARE_ALREADY_VERIFYING"
                                   ? "the firmware is being verified; follow its current "
                                     "verify job instead of creating another"
                                   : "the firmware is verified already; it needs no verify job");
    SetDetail(status, failure);
  }
}

}  // namespace otaverify

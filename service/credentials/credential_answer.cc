#include "service/credentials/credential_answer.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "aliyun/credentials/v1/credentials.pb.h"
#include "google/protobuf/util/json_util.h"
#include "service/aliyun/signer.h"

namespace otaverify {
namespace {

using absl::StatusCode;

template <typename Message>
bool ParseJson(absl::string_view body, Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  return google::protobuf::util::JsonStringToMessage(std::string(body), message, options).ok();
}

std::string Redact(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    const std::string once = PercentEncode(secret);
    const std::string twice = PercentEncode(once);
    text = absl::StrReplaceAll(text, {{secret, "<redacted>"}});
    text = absl::StrReplaceAll(text, {{once, "<redacted>"}});
    text = absl::StrReplaceAll(text, {{twice, "<redacted>"}});
  }
  return text;
}

StatusCode ClassifyStsError(int http_status, absl::string_view code) {
  if (absl::StartsWith(code, "Throttling") || absl::StartsWith(code, "ServiceUnavailable") ||
      absl::StartsWith(code, "InternalError") || code == "SignatureNonceUsed" ||
      absl::StartsWith(code, "InvalidSecurityToken") ||
      // The kubelet rotates the projected token well before it expires; the next fetch
      // re-reads the file.
      code == "AuthenticationFail.OIDCToken.Expired") {
    return StatusCode::kUnavailable;
  }
  if (http_status >= 500 || http_status == 429) return StatusCode::kUnavailable;
  if (absl::StartsWith(code, "InvalidTimeStamp")) return StatusCode::kFailedPrecondition;
  if (absl::StrContains(code, "NoPermission") || absl::StartsWith(code, "Forbidden") ||
      absl::StartsWith(code, "AuthenticationFail") || absl::StartsWith(code, "EntityNotExist") ||
      absl::StartsWith(code, "InvalidAccessKeyId") || code == "SignatureDoesNotMatch" ||
      http_status == 401 || http_status == 403) {
    return StatusCode::kPermissionDenied;
  }
  return StatusCode::kInvalidArgument;
}

absl::StatusOr<Credentials> Complete(std::string id, std::string secret, std::string token,
                                     absl::string_view expiration, absl::string_view what,
                                     absl::string_view source) {
  if (id.empty() || secret.empty() || token.empty() || expiration.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " answer lacks AccessKeyId, AccessKeySecret, SecurityToken or Expiration"));
  }
  absl::StatusOr<absl::Time> expires = ParseExpiration(expiration);
  if (!expires.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", expires.status().message()));
  }
  Credentials out;
  out.access_key_id = std::move(id);
  out.access_key_secret = std::move(secret);
  out.security_token = std::move(token);
  out.expiration = *expires;
  out.source = std::string(source);
  return out;
}

}  // namespace

absl::StatusOr<absl::Time> ParseExpiration(absl::string_view text) {
  // %E*S takes seconds with or without a fraction; the zone argument only applies when the
  // text carries no offset, and it is UTC, never the local zone.
  for (const char* format : {"%Y-%m-%dT%H:%M:%E*SZ", "%Y-%m-%dT%H:%M:%E*S%Ez"}) {
    absl::Time t;
    if (absl::ParseTime(format, text, absl::UTCTimeZone(), &t, nullptr)) return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Expiration \"", text, "\" is not an ISO 8601 UTC time"));
}

absl::StatusOr<Credentials> ParseEcsRamRoleCredentials(absl::string_view body,
                                                       absl::string_view source) {
  aliyun::credentials::v1::EcsRamRoleCredentials answer;
  if (!ParseJson(body, &answer)) {
    return absl::InvalidArgumentError("ECS metadata credentials answer is not JSON");
  }
  if (answer.code() != "Success") {
    return absl::UnavailableError(absl::StrCat("ECS metadata service answered Code \"",
                                               answer.code(), "\" instead of Success"));
  }
  return Complete(answer.access_key_id(), answer.access_key_secret(), answer.security_token(),
                  answer.expiration(), "ECS metadata credentials", source);
}

std::string StsErrorCode(const HttpResponse& response) {
  aliyun::credentials::v1::StsResponse answer;
  return ParseJson(response.body, &answer) ? answer.code() : "";
}

absl::StatusOr<Credentials> ReadStsAnswer(const HttpResponse& response, absl::string_view action,
                                          absl::string_view source,
                                          const std::vector<std::string>& secrets) {
  aliyun::credentials::v1::StsResponse answer;
  const bool json = ParseJson(response.body, &answer);
  const bool http_ok = response.status >= 200 && response.status < 300;
  if (http_ok && json && answer.code().empty()) {
    const auto& c = answer.credentials();
    absl::StatusOr<Credentials> out =
        Complete(c.access_key_id(), c.access_key_secret(), c.security_token(), c.expiration(),
                 absl::StrCat("STS ", action, " (RequestId ", answer.request_id(), ")"), source);
    return out;
  }
  const StatusCode code = ClassifyStsError(response.status, answer.code());
  std::string message = absl::StrCat("STS ", action, " failed: HTTP ", response.status, ", Code \"",
                                     answer.code().empty() ? "<none>" : answer.code(),
                                     "\", RequestId \"", answer.request_id(), "\"");
  if (!answer.message().empty()) {
    absl::StrAppend(&message, ": ", Redact(answer.message(), secrets));
  } else if (!json) {
    absl::StrAppend(&message, " (the answer is not JSON)");
  }
  return absl::Status(code, message);
}

absl::Status CredentialsTransportFailure(const absl::Status& failure, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat(what, ": ", absl::StatusCodeToString(failure.code()), ": ", failure.message()));
}

}  // namespace otaverify

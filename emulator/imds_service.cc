#include "emulator/imds_service.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/response.h"

namespace otaverify {
namespace emulator {
namespace {

constexpr char kTextType[] = "text/plain;charset=utf-8";
constexpr char kTokenAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

ImdsReply Text(int status, std::string body) {
  return ImdsReply{status, kTextType, std::move(body)};
}

}  // namespace

absl::string_view ImdsPathKindName(ImdsPathKind kind) {
  switch (kind) {
    case ImdsPathKind::kToken:
      return "token";
    case ImdsPathKind::kRole:
      return "role";
    case ImdsPathKind::kCredentials:
      return "credentials";
    case ImdsPathKind::kOther:
      return "other";
  }
  return "other";
}

ImdsPathKind ClassifyImdsPath(absl::string_view path) {
  if (path == kImdsTokenPath) return ImdsPathKind::kToken;
  const absl::string_view list(kImdsCredentialsPath);
  if (path == list || path == list.substr(0, list.size() - 1)) return ImdsPathKind::kRole;
  if (absl::StartsWith(path, list) &&
      path.substr(list.size()).find('/') == absl::string_view::npos) {
    return ImdsPathKind::kCredentials;
  }
  return ImdsPathKind::kOther;
}

void ImdsService::Reset() {
  absl::MutexLock lock(&mu_);
  tokens_.clear();
  current_.reset();
}

ImdsReply ImdsService::Handle(const RpcHttpRequest& request, ImdsAnswer answer) {
  const absl::string_view path =
      absl::string_view(request.target).substr(0, request.target.find('?'));
  const ImdsPathKind kind = ClassifyImdsPath(path);
  const absl::Time now = clock_->Now();
  if (kind == ImdsPathKind::kToken) {
    if (request.method != "PUT") return Text(405, "Method Not Allowed");
    return IssueToken(request, now);
  }
  if (request.method != "GET") return Text(405, "Method Not Allowed");
  const CredentialSettings settings = settings_->Get();
  if (std::optional<ImdsReply> denied = CheckToken(request, settings, now)) return *denied;
  switch (kind) {
    case ImdsPathKind::kRole:
      return Text(200, settings.imds_role_name);
    case ImdsPathKind::kCredentials:
      if (path.substr(sizeof(kImdsCredentialsPath) - 1) != settings.imds_role_name) break;
      return Credentials(settings, answer, now);
    case ImdsPathKind::kToken:
    case ImdsPathKind::kOther:
      break;
  }
  return Text(404, "Not Found");
}

ImdsReply ImdsService::IssueToken(const RpcHttpRequest& request, absl::Time now) {
  const std::string* ttl_header = request.Header(kImdsTokenTtlHeader);
  int64_t ttl = 0;
  if (ttl_header == nullptr || !absl::SimpleAtoi(*ttl_header, &ttl) || ttl < 1 ||
      ttl > kImdsMaxTokenTtlSeconds) {
    return Text(400, absl::StrCat("X-aliyun-ecs-metadata-token-ttl-seconds must be 1..",
                                  kImdsMaxTokenTtlSeconds));
  }
  std::string token = ids_->RandomString(kTokenAlphabet, 56);
  absl::MutexLock lock(&mu_);
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    if (it->second <= now) {
      tokens_.erase(it++);
    } else {
      ++it;
    }
  }
  while (tokens_.size() >= kMaxTokens) {
    auto first = tokens_.begin();
    for (auto it = tokens_.begin(); it != tokens_.end(); ++it) {
      if (it->second < first->second) first = it;
    }
    tokens_.erase(first);
  }
  tokens_.emplace(token, now + absl::Seconds(ttl));
  return Text(200, std::move(token));
}

std::optional<ImdsReply> ImdsService::CheckToken(const RpcHttpRequest& request,
                                                 const CredentialSettings& settings,
                                                 absl::Time now) {
  if (settings.imds_hardened_mode == ImdsHardenedMode::kOff) return std::nullopt;
  const std::string* token = request.Header(kImdsTokenHeader);
  if (token == nullptr) {
    if (settings.imds_hardened_mode == ImdsHardenedMode::kOptional) return std::nullopt;
    return Text(401, "Unauthorized: this instance requires X-aliyun-ecs-metadata-token");
  }
  absl::MutexLock lock(&mu_);
  auto it = tokens_.find(*token);
  if (it == tokens_.end() || it->second <= now) {
    return Text(401, "Unauthorized: the metadata token is invalid or expired");
  }
  return std::nullopt;
}

ImdsReply ImdsService::Credentials(const CredentialSettings& settings, ImdsAnswer answer,
                                   absl::Time now) {
  IssuedCredential credential;
  bool issued_now = false;
  if (answer == ImdsAnswer::kExpired) {
    // A triple that expired a minute ago, as a platform with a stuck rotation would hand out.
    credential = issued_->Issue(now - settings.imds_credential_lifetime - absl::Minutes(1),
                                now - absl::Minutes(1));
    issued_now = true;
  } else {
    absl::MutexLock lock(&mu_);
    const bool due = !current_.has_value() || current_->role != settings.imds_role_name ||
                     current_->lifetime != settings.imds_credential_lifetime ||
                     now >= current_->credential.expiration - settings.imds_rotation_lead;
    const bool repeat = answer == ImdsAnswer::kRepeat && current_.has_value();
    if (due && !repeat) {
      current_ = Current{issued_->Issue(now, now + settings.imds_credential_lifetime),
                         settings.imds_role_name, settings.imds_credential_lifetime};
      issued_now = true;
    }
    credential = current_->credential;
  }
  if (issued_now) stats_->RecordCredentialsIssued("imds");

  const std::string expiration =
      answer == ImdsAnswer::kFractionalExpiry
          ? absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                             credential.expiration - absl::Milliseconds(877), absl::UTCTimeZone())
          : FormatUtcSeconds(credential.expiration);
  Doc doc;
  doc.Str("AccessKeyId", credential.access_key_id)
      .Str("AccessKeySecret", credential.access_key_secret)
      .Str("Expiration", expiration)
      .Str("SecurityToken", credential.security_token)
      .Str("LastUpdated", FormatUtcSeconds(credential.issued_at))
      .Str("Code", answer == ImdsAnswer::kCodeNotSuccess ? "Failure" : "Success");
  return Text(200, doc.ToJson());
}

}  // namespace emulator
}  // namespace otaverify

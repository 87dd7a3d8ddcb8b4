#include "emulator/sts_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace otaverify {
namespace emulator {
namespace {

// The AssumedRoleId prefix: the role's id in the real service (a fixed fake here).
constexpr char kRoleId[] = "300000000000000001";

// The service's wording for a missing parameter (as for the common ones, authenticator.cc).
ApiError Missing(absl::string_view name) {
  return GatewayError(400, absl::StrCat("Missing", name),
                      absl::StrCat("The input parameter \"", name,
                                   "\" that is mandatory for processing this request is not "
                                   "supplied."));
}

// RoleSessionName: 2..64 of [A-Za-z0-9.@_-] (the STS API reference).
bool ValidSessionName(absl::string_view name) {
  if (name.size() < 2 || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '@' && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

// Whether the request wants JSON: V3 always, V1 with Format=JSON (else XML, like the IoT API).
bool WantsJson(const RpcHttpRequest& request, const std::map<std::string, std::string>& params) {
  const std::string* authorization = request.Header("authorization");
  if (authorization != nullptr && absl::StartsWith(*authorization, "ACS3-")) return true;
  auto format = params.find("Format");
  return format != params.end() && absl::EqualsIgnoreCase(format->second, "JSON");
}

// The checks common to both actions (RoleArn, RoleSessionName, DurationSeconds) and, with
// `oidc`, the OIDC ones; on success `duration` is what the credentials will live.
std::optional<ApiError> CheckAssume(const std::map<std::string, std::string>& params, bool oidc,
                                    const CredentialSettings& settings, absl::Duration* duration) {
  auto error = [](ApiError e) { return std::optional<ApiError>(std::move(e)); };
  auto param = [&params](absl::string_view name) -> const std::string* {
    auto it = params.find(std::string(name));
    return it == params.end() || it->second.empty() ? nullptr : &it->second;
  };
  std::vector<const char*> required = {"RoleArn"};
  if (oidc) {
    required.push_back("OIDCProviderArn");
    required.push_back("OIDCToken");
  }
  required.push_back("RoleSessionName");
  for (const char* name : required) {
    if (param(name) == nullptr) return error(Missing(name));
  }
  const std::string& session = *param("RoleSessionName");
  if (!ValidSessionName(session)) {
    return error(GatewayError(400, "InvalidParameter.RoleSessionName",
                              "The parameter RoleSessionName is wrongly formed."));
  }
  *duration = absl::Seconds(3600);
  if (const std::string* text = param("DurationSeconds")) {
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(*text, &seconds) || absl::Seconds(seconds) < settings.sts_min_duration ||
        absl::Seconds(seconds) > settings.sts_max_duration) {
      return error(
          GatewayError(400, "InvalidParameter.DurationSeconds",
                       absl::StrCat("The parameter DurationSeconds must be between ",
                                    absl::ToInt64Seconds(settings.sts_min_duration), " and ",
                                    absl::ToInt64Seconds(settings.sts_max_duration), ".")));
    }
    *duration = absl::Seconds(seconds);
  } else {
    *duration = std::max(settings.sts_min_duration, std::min(*duration, settings.sts_max_duration));
  }
  if (settings.sts_duration_override > absl::ZeroDuration()) {
    *duration = settings.sts_duration_override;
  }
  if (oidc) {
    if (*param("OIDCProviderArn") != settings.oidc_provider_arn) {
      return error(GatewayError(401, "AuthenticationFail.NoPermission",
                                "No such OIDC Provider registered."));
    }
    if (*param("OIDCToken") != settings.oidc_token) {
      return error(GatewayError(401, "AuthenticationFail.OIDCToken.Invalid",
                                "The OIDCToken is invalid: it does not verify against the "
                                "provider's keys."));
    }
  }
  if (*param("RoleArn") != settings.role_arn) {
    return error(GatewayError(404, "EntityNotExist.Role",
                              absl::StrCat("The role not exists: ", *param("RoleArn"), ".")));
  }
  return std::nullopt;
}

}  // namespace

StsResult StsService::Handle(const RpcHttpRequest& request, const std::string& action,
                             const std::string& request_id) {
  const std::string* host_header = request.Header("host");
  const std::string host = host_header == nullptr ? "" : *host_header;
  const CredentialSettings settings = settings_->Get();
  auto fail = [&](const ApiError& error, bool json) {
    return StsResult{error.http_status, RenderError(error, request_id, host, "", json), error.code};
  };

  if (action == kAssumeRoleWithOidc) {
    // Unsigned: no AccessKeyId, no Signature; whatever signing parameters come along are
    // ignored, as the service does.
    std::vector<std::pair<std::string, std::string>> list;
    std::map<std::string, std::string> params;
    const std::optional<ApiError> malformed = ParseRpcParams(request, &list, &params);
    const bool json = WantsJson(request, params);
    if (malformed) return fail(*malformed, json);
    absl::Duration duration;
    if (std::optional<ApiError> error = CheckAssume(params, /*oidc=*/true, settings, &duration)) {
      return fail(*error, json);
    }
    return Issue(params, duration, settings, /*oidc=*/true, json, action, request_id);
  }
  if (action == kAssumeRole) {
    AuthenticatedCall call;
    if (std::optional<ApiError> error =
            authenticator_->Authenticate(request, &call, kStsApiVersion)) {
      return fail(*error, call.json);
    }
    absl::Duration duration;
    if (std::optional<ApiError> error =
            CheckAssume(call.business_params, /*oidc=*/false, settings, &duration)) {
      return fail(*error, call.json);
    }
    return Issue(call.business_params, duration, settings, /*oidc=*/false, call.json, action,
                 request_id);
  }
  std::vector<std::pair<std::string, std::string>> list;
  std::map<std::string, std::string> params;
  ParseRpcParams(request, &list, &params);
  return fail(GatewayError(404, "InvalidAction.NotFound",
                           absl::StrCat("Specified api \"", action,
                                        "\" is not found, please check your url and method.")),
              WantsJson(request, params));
}

StsResult StsService::Issue(const std::map<std::string, std::string>& params,
                            absl::Duration duration, const CredentialSettings& settings, bool oidc,
                            bool json, const std::string& action, const std::string& request_id) {
  const std::string& session = params.at("RoleSessionName");
  const absl::Time now = clock_->Now();
  const IssuedCredential credential = issued_->Issue(now, now + duration);
  stats_->RecordCredentialsIssued(action);

  Doc credentials;
  credentials.Str("AccessKeyId", credential.access_key_id)
      .Str("AccessKeySecret", credential.access_key_secret)
      .Str("SecurityToken", credential.security_token)
      .Str("Expiration", FormatUtcSeconds(credential.expiration));
  Doc user;
  user.Str("AssumedRoleId", absl::StrCat(kRoleId, ":", session))
      .Str("Arn", absl::StrCat(settings.role_arn, "/", session));
  Doc doc;
  doc.Str("RequestId", request_id)
      .Obj("Credentials", std::move(credentials))
      .Obj("AssumedRoleUser", std::move(user));
  if (oidc) {
    Doc info;
    info.Str("Subject", "system:serviceaccount:default:emulator")
        .Str("Issuer", "https://oidc-emulator.invalid/")
        .Str("ClientIds", "sts.aliyuncs.com");
    doc.Obj("OIDCTokenInfo", std::move(info));
  }
  StsResult result;
  result.status = 200;
  result.outcome = "success";
  result.body = json ? Body{"application/json;charset=utf-8", doc.ToJson()}
                     : Body{"text/xml;charset=utf-8", doc.ToXml(absl::StrCat(action, "Response"))};
  return result;
}

}  // namespace emulator
}  // namespace otaverify

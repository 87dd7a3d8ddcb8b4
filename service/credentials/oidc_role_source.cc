#include "service/credentials/oidc_role_source.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "service/aliyun/nonce.h"
#include "service/aliyun/signer.h"
#include "service/credentials/credential_answer.h"

namespace otaverify {
namespace {

constexpr char kAction[] = "AssumeRoleWithOIDC";

}  // namespace

absl::Status ValidateRoleSessionName(absl::string_view name) {
  // STS: 2..64 characters of letters, digits and . @ - _
  const bool charset_ok =
      name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.@-_") ==
      absl::string_view::npos;
  if (name.size() < 2 || name.size() > 64 || !charset_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("role session name \"", name, "\" must be 2..64 letters, digits or . @ - _"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDurationSeconds(int duration_seconds) {
  if (duration_seconds < 900 || duration_seconds > 43200) {
    return absl::InvalidArgumentError(absl::StrCat(
        "duration_seconds ", duration_seconds, " must be within 900..43200 (and the role's max)"));
  }
  return absl::OkStatus();
}

std::string NewRoleSessionName() {
  std::string nonce = absl::StrReplaceAll(NewNonce(), {{"-", ""}});
  return absl::StrCat("otaverify-", nonce.substr(0, 12));
}

OidcRoleSource::Options OidcRoleSource::OptionsFromEnvironment(const Environment& env,
                                                               bool allow_insecure_endpoint) {
  Options options;
  options.sts = StsOptionsFromEnvironment(env, allow_insecure_endpoint);
  options.role_arn = std::string(absl::StripAsciiWhitespace(env("ALIBABA_CLOUD_ROLE_ARN")));
  options.oidc_provider_arn =
      std::string(absl::StripAsciiWhitespace(env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")));
  options.oidc_token_file = env("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
  options.role_session_name =
      std::string(absl::StripAsciiWhitespace(env("ALIBABA_CLOUD_ROLE_SESSION_NAME")));
  return options;
}

absl::StatusOr<std::unique_ptr<OidcRoleSource>> OidcRoleSource::Create(HttpTransport* transport,
                                                                       Options options,
                                                                       const Clock* clock) {
  if (options.role_arn.empty()) return absl::InvalidArgumentError("OIDC role: role_arn is empty");
  if (options.oidc_provider_arn.empty()) {
    return absl::InvalidArgumentError("OIDC role: oidc_provider_arn is empty");
  }
  if (options.oidc_token_file.empty()) {
    return absl::InvalidArgumentError("OIDC role: oidc_token_file is empty");
  }
  if (options.role_session_name.empty()) options.role_session_name = NewRoleSessionName();
  if (absl::Status s = ValidateRoleSessionName(options.role_session_name); !s.ok()) return s;
  if (absl::Status s = ValidateDurationSeconds(options.duration_seconds); !s.ok()) return s;
  absl::StatusOr<Endpoint> endpoint = ResolveStsEndpoint(options.sts);
  if (!endpoint.ok()) return endpoint.status();
  return std::unique_ptr<OidcRoleSource>(
      new OidcRoleSource(transport, std::move(options), *std::move(endpoint), clock));
}

OidcRoleSource::OidcRoleSource(HttpTransport* transport, Options options, Endpoint endpoint,
                               const Clock* clock)
    : transport_(transport),
      options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      clock_(clock) {}

void OidcRoleSource::Fetch(absl::Time now, Callback done) {
  absl::StatusOr<std::string> token = ReadSecretFile("OIDC token", options_.oidc_token_file);
  if (!token.ok()) {
    std::move(done)(token.status());
    return;
  }
  const Params query = {
      {"Action", kAction},
      {"Format", "JSON"},
      {"Version", "2015-04-01"},
      {"Timestamp", FormatAliyunTime(clock_->Now())},
      {"SignatureNonce", NewNonce()},
  };
  Params form = {
      {"RoleArn", options_.role_arn},
      {"OIDCProviderArn", options_.oidc_provider_arn},
      {"OIDCToken", *token},
      {"RoleSessionName", options_.role_session_name},
      {"DurationSeconds", absl::StrCat(options_.duration_seconds)},
  };
  if (!options_.policy.empty()) form.emplace_back("Policy", options_.policy);

  HttpRequest request;
  request.method = "POST";
  request.url = absl::StrCat(endpoint_.base_url, "/?", EncodeParams(query));
  request.headers = {{"Accept", "application/json"},
                     {"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = EncodeParams(form);
  request.timeout = options_.sts.timeout;
  transport_->Send(std::move(request), [token = *std::move(token), done = std::move(done)](
                                           absl::StatusOr<HttpResponse> response) mutable {
    if (!response.ok()) {
      std::move(done)(CredentialsTransportFailure(response.status(), "STS AssumeRoleWithOIDC"));
      return;
    }
    std::move(done)(ReadStsAnswer(*response, kAction, "oidc_role_arn", {token}));
  });
}

}  // namespace otaverify

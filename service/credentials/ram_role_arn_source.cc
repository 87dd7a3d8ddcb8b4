#include "service/credentials/ram_role_arn_source.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/aliyun/nonce.h"
#include "service/credentials/credential_answer.h"
#include "service/credentials/oidc_role_source.h"

namespace otaverify {
namespace {

constexpr char kAction[] = "AssumeRole";

// STS refused the signing credentials themselves, not the role.
bool RejectsSourceCredentials(absl::string_view code) {
  return absl::StartsWith(code, "InvalidSecurityToken") ||
         absl::StartsWith(code, "InvalidAccessKeyId") || code == "SignatureDoesNotMatch";
}

}  // namespace

absl::StatusOr<std::unique_ptr<RamRoleArnSource>> RamRoleArnSource::Create(
    HttpTransport* transport, CredentialsProvider* source_credentials, Options options,
    const Clock* clock) {
  if (source_credentials == nullptr) {
    return absl::InvalidArgumentError("RAM role ARN: no source credentials");
  }
  if (options.role_arn.empty())
    return absl::InvalidArgumentError("RAM role ARN: role_arn is empty");
  if (options.role_session_name.empty()) options.role_session_name = NewRoleSessionName();
  if (absl::Status s = ValidateRoleSessionName(options.role_session_name); !s.ok()) return s;
  if (absl::Status s = ValidateDurationSeconds(options.duration_seconds); !s.ok()) return s;
  absl::StatusOr<Endpoint> endpoint = ResolveStsEndpoint(options.sts);
  if (!endpoint.ok()) return endpoint.status();
  return std::unique_ptr<RamRoleArnSource>(new RamRoleArnSource(
      transport, source_credentials, nullptr, std::move(options), *std::move(endpoint), clock));
}

absl::StatusOr<std::unique_ptr<RamRoleArnSource>> RamRoleArnSource::Create(
    HttpTransport* transport, std::unique_ptr<CredentialsProvider> source_credentials,
    Options options, const Clock* clock) {
  absl::StatusOr<std::unique_ptr<RamRoleArnSource>> borrowed =
      Create(transport, source_credentials.get(), std::move(options), clock);
  if (!borrowed.ok()) return borrowed.status();
  RamRoleArnSource& checked = **borrowed;
  CredentialsProvider* const source = source_credentials.get();
  return std::unique_ptr<RamRoleArnSource>(
      new RamRoleArnSource(transport, source, std::move(source_credentials), checked.options_,
                           checked.endpoint_, clock));
}

RamRoleArnSource::RamRoleArnSource(HttpTransport* transport,
                                   CredentialsProvider* source_credentials,
                                   std::unique_ptr<CredentialsProvider> owned_source,
                                   Options options, Endpoint endpoint, const Clock* clock)
    : transport_(transport),
      owned_source_(std::move(owned_source)),
      source_(source_credentials),
      options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      clock_(clock) {}

void RamRoleArnSource::Fetch(absl::Time now, Callback done) {
  source_->Get(
      now, [this, done = std::move(done)](absl::StatusOr<CredentialsSnapshot> source) mutable {
        if (!source.ok()) {
          std::move(done)(absl::Status(
              source.status().code(),
              absl::StrCat("source credentials for AssumeRole: ", source.status().message())));
          return;
        }
        AssumeRole(*std::move(source), std::move(done));
      });
}

void RamRoleArnSource::AssumeRole(CredentialsSnapshot source, Callback done) {
  RpcCall call;
  call.action = kAction;
  call.version = "2015-04-01";
  call.method = "POST";
  call.params = {
      {"RoleArn", options_.role_arn},
      {"RoleSessionName", options_.role_session_name},
      {"DurationSeconds", absl::StrCat(options_.duration_seconds)},
  };
  if (!options_.policy.empty()) call.params.emplace_back("Policy", options_.policy);
  if (!options_.external_id.empty()) call.params.emplace_back("ExternalId", options_.external_id);
  // Signed when sent, not when the fetch began: the source may have been fetched meanwhile.
  HttpRequest request = BuildSignedRequest(call, *source, endpoint_, SignatureVersion::kV1,
                                           clock_->Now(), NewNonce());
  request.timeout = options_.sts.timeout;
  transport_->Send(std::move(request), [this, source = std::move(source), done = std::move(done)](
                                           absl::StatusOr<HttpResponse> response) mutable {
    if (!response.ok()) {
      std::move(done)(CredentialsTransportFailure(response.status(), "STS AssumeRole"));
      return;
    }
    if (!(response->status >= 200 && response->status < 300) &&
        RejectsSourceCredentials(StsErrorCode(*response))) {
      source_->Invalidate(*source);
    }
    std::move(done)(ReadStsAnswer(*response, kAction, "ram_role_arn",
                                  {source->access_key_secret, source->security_token}));
  });
}

}  // namespace otaverify

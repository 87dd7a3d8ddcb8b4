// OidcRoleSource: STS credentials for a RAM role assumed with the pod's OIDC token, as ACK's
// RRSA provides it (credentials.md §1, §3).
//
// AssumeRoleWithOIDC is unsigned: no AccessKeyId, no Signature. The token file is re-read on
// every fetch (the kubelet rotates it by symlink swap), and the token travels in the form body,
// never in the URL. The request is POST <endpoint>/?Action=AssumeRoleWithOIDC&Format=JSON&
// Version=2015-04-01&Timestamp=...&SignatureNonce=... as the official libraries send it.
//
// Thread-safe: no mutable state. The transport and clock are not owned and must outlive the
// source; the source must outlive every Fetch until its callback has run.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_OIDC_ROLE_SOURCE_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_OIDC_ROLE_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"
#include "service/credentials/credentials.h"
#include "service/credentials/environment.h"
#include "service/credentials/sts_endpoint.h"
#include "service/transport/http_transport.h"

namespace otaverify {

class OidcRoleSource : public CredentialsSource {
 public:
  struct Options {
    StsOptions sts;
    std::string role_arn;           // acs:ram::<account>:role/<name>
    std::string oidc_provider_arn;  // acs:ram::<account>:oidc-provider/<name>
    std::string oidc_token_file;
    std::string role_session_name;  // empty: "otaverify-<random>", fixed for the source's life
    int duration_seconds = 3600;    // 900..43200, and at most the role's maximum
    std::string policy;             // optional JSON policy narrowing the role
  };

  // ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE,
  // ALIBABA_CLOUD_ROLE_SESSION_NAME and the STS variables (StsOptionsFromEnvironment).
  static Options OptionsFromEnvironment(const Environment& env, bool allow_insecure_endpoint);

  // INVALID_ARGUMENT naming the option: missing ARN or token file, bad session name or
  // duration, bad endpoint (ResolveStsEndpoint).
  static absl::StatusOr<std::unique_ptr<OidcRoleSource>> Create(HttpTransport* transport,
                                                                Options options,
                                                                const Clock* clock);

  // Errors: FAILED_PRECONDITION when the token file is missing or empty; STS and transport
  // errors as ReadStsAnswer and CredentialsTransportFailure map them. Never names the token.
  void Fetch(absl::Time now, Callback done) override;
  std::string Kind() const override { return "oidc_role_arn"; }

  const std::string& role_session_name() const { return options_.role_session_name; }
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  OidcRoleSource(HttpTransport* transport, Options options, Endpoint endpoint, const Clock* clock);

  HttpTransport* const transport_;
  const Options options_;
  const Endpoint endpoint_;
  const Clock* const clock_;
};

// Checks shared by the STS sources. INVALID_ARGUMENT naming `what`.
absl::Status ValidateRoleSessionName(absl::string_view name);
absl::Status ValidateDurationSeconds(int duration_seconds);
// "otaverify-" and 12 random hex digits.
std::string NewRoleSessionName();

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_OIDC_ROLE_SOURCE_H_

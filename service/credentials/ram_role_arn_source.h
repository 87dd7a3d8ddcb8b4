// RamRoleArnSource: STS credentials for a RAM role assumed with other credentials (STS
// AssumeRole, credentials.md §3), signed with V1 (protocol.md §4) with exactly the snapshot
// the source provider hands out.
//
// When STS rejects that snapshot (InvalidSecurityToken.*, InvalidAccessKeyId.*,
// SignatureDoesNotMatch), the snapshot is invalidated at the source provider so that the next
// fetch signs with fresh source credentials.
//
// Thread-safe: no mutable state. The transport, clock and a borrowed source provider must
// outlive the source; the source must outlive every Fetch until its callback has run.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_RAM_ROLE_ARN_SOURCE_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_RAM_ROLE_ARN_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"
#include "service/credentials/credentials.h"
#include "service/credentials/sts_endpoint.h"
#include "service/transport/http_transport.h"

namespace otaverify {

class RamRoleArnSource : public CredentialsSource {
 public:
  struct Options {
    StsOptions sts;
    std::string role_arn;
    std::string role_session_name;  // empty: "otaverify-<random>", fixed for the source's life
    int duration_seconds = 3600;    // 900..43200, and at most the role's maximum
    std::string policy;             // optional
    std::string external_id;        // optional
  };

  // `source_credentials` is borrowed. INVALID_ARGUMENT naming the bad option.
  static absl::StatusOr<std::unique_ptr<RamRoleArnSource>> Create(
      HttpTransport* transport, CredentialsProvider* source_credentials, Options options,
      const Clock* clock);
  // The same, owning the source provider (a profile's AccessKey).
  static absl::StatusOr<std::unique_ptr<RamRoleArnSource>> Create(
      HttpTransport* transport, std::unique_ptr<CredentialsProvider> source_credentials,
      Options options, const Clock* clock);

  // Errors: the source provider's error as is; STS and transport errors as ReadStsAnswer and
  // CredentialsTransportFailure map them (secret and token of the snapshot redacted).
  void Fetch(absl::Time now, Callback done) override;
  std::string Kind() const override { return "ram_role_arn"; }

  const std::string& role_session_name() const { return options_.role_session_name; }

 private:
  RamRoleArnSource(HttpTransport* transport, CredentialsProvider* source_credentials,
                   std::unique_ptr<CredentialsProvider> owned_source, Options options,
                   Endpoint endpoint, const Clock* clock);
  void AssumeRole(CredentialsSnapshot source, Callback done);

  HttpTransport* const transport_;
  const std::unique_ptr<CredentialsProvider> owned_source_;  // may be null
  CredentialsProvider* const source_;
  const Options options_;
  const Endpoint endpoint_;
  const Clock* const clock_;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_RAM_ROLE_ARN_SOURCE_H_

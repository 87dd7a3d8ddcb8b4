// EcsRamRoleSource: the ECS instance RAM role's STS credentials from the instance metadata
// service (IMDS, credentials.md §2).
//
// Hardened mode first: PUT /latest/api/token (TTL 6 h) and send the token on every GET. The
// token is cached until shortly before its TTL and dropped when the service rejects it (401),
// after which the fetch starts over once. When the PUT fails, the fetch continues without a
// token unless IMDSv1 is disabled. The role is discovered on every fetch when not configured
// (a role may be swapped while the gateway runs). Every request bypasses any HTTP proxy and is
// bounded by `timeout`.
//
// Thread-safe. The transport and clock are not owned and must outlive the source; the source
// must outlive every Fetch until its callback has run.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_ECS_RAM_ROLE_SOURCE_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_ECS_RAM_ROLE_SOURCE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"
#include "service/credentials/credentials.h"
#include "service/credentials/environment.h"
#include "service/transport/http_transport.h"

namespace otaverify {

class EcsRamRoleSource : public CredentialsSource {
 public:
  struct Options {
    // Plain http; a host alone means http://host.
    std::string imds_base_url = "http://100.100.100.200";
    std::string role_name;  // empty: discovered on every fetch
    bool imdsv1_disabled = false;
    absl::Duration timeout = absl::Seconds(1);  // per request, as the official libraries
    absl::Duration token_ttl = absl::Seconds(21600);
  };

  // ALIBABA_CLOUD_IMDS_ENDPOINT, ALIBABA_CLOUD_ECS_METADATA (role name) and
  // ALIBABA_CLOUD_IMDSV1_DISABLED over the defaults.
  static Options OptionsFromEnvironment(const Environment& env);

  // INVALID_ARGUMENT for a malformed base URL or a TTL outside 1 s..6 h.
  static absl::StatusOr<std::unique_ptr<EcsRamRoleSource>> Create(HttpTransport* transport,
                                                                  Options options,
                                                                  const Clock* clock);

  // Errors: UNAVAILABLE for network failures, timeouts, 5xx and Code != Success;
  // FAILED_PRECONDITION when no role is attached, the role is unknown or the service refuses
  // token-less access; INVALID_ARGUMENT for a malformed answer.
  void Fetch(absl::Time now, Callback done) override;
  std::string Kind() const override { return "ecs_ram_role"; }

 private:
  struct FetchOp;
  using TokenCallback = absl::AnyInvocable<void(absl::StatusOr<std::optional<std::string>>) &&>;

  EcsRamRoleSource(HttpTransport* transport, Options options, Endpoint endpoint,
                   const Clock* clock);

  void Start(std::shared_ptr<FetchOp> op);
  // The cached token, a fresh one, nullopt to go on without one, or why neither is allowed.
  void GetToken(TokenCallback done);
  void DiscoverRole(std::shared_ptr<FetchOp> op);
  void GetCredentials(std::shared_ptr<FetchOp> op);
  // A 401 with a token: forget it and start over once. Returns whether it did.
  bool RetryWithoutCachedToken(const std::shared_ptr<FetchOp>& op, int http_status);
  HttpRequest Get(const std::string& path, const std::optional<std::string>& token) const;

  HttpTransport* const transport_;
  const Options options_;
  const Endpoint endpoint_;
  const Clock* const clock_;

  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time token_valid_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_ECS_RAM_ROLE_SOURCE_H_

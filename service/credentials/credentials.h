// Credentials: an immutable snapshot of what the gateway signs with, and the seam that hands
// them out. credentials.md §5.
//
// A request is signed with exactly one snapshot, so a refresh can never tear a key id from its
// secret or token. Snapshots are shared as shared_ptr<const Credentials>; thread-safe.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace otaverify {

struct Credentials {
  std::string access_key_id;
  std::string access_key_secret;  // never logged
  std::string security_token;     // empty for a plain AccessKey; never logged
  absl::Time expiration = absl::InfiniteFuture();
  std::string source;  // "env", "file", ... for logs and metrics

  // Safe to log: the first characters of the key id and the source, nothing secret.
  std::string Describe() const;
};

using CredentialsSnapshot = std::shared_ptr<const Credentials>;

// Hands out the snapshot to sign with. Implementations are thread-safe.
class CredentialsProvider {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<CredentialsSnapshot>) &&>;
  virtual ~CredentialsProvider() = default;
  // Calls `done` exactly once with the snapshot to sign with at `now`: inline when a usable
  // one is at hand, later (on another thread) when a fetch must finish first. Never blocks.
  virtual void Get(absl::Time now, Callback done) = 0;
  // The upstream rejected `rejected` (expired token, unknown key): drop it if it is still the
  // current snapshot, so the next Get fetches anew. A no-op where nothing can be re-fetched.
  virtual void Invalidate(const Credentials& rejected) {}
};

// Credentials that never change (a plain AccessKey, or a fixed STS triple).
class StaticCredentialsProvider : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials)
      : credentials_(std::make_shared<const Credentials>(std::move(credentials))) {}
  void Get(absl::Time now, Callback done) override;

 private:
  const CredentialsSnapshot credentials_;
};

// Where credentials come from: the environment, files mounted from a Kubernetes Secret, the
// ECS metadata service, STS. A source only fetches; caching, refresh timing, single flight and
// backoff belong to CredentialsCache. Network sources go through HttpTransport and bound every
// fetch with their own timeouts. Implementations are thread-safe.
class CredentialsSource {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<Credentials>) &&>;
  virtual ~CredentialsSource() = default;
  // Fetches fresh credentials; `done` runs exactly once, on any thread, and must not block.
  // Errors: UNAVAILABLE for what may pass (network, 5xx, throttling, timeouts); other codes
  // for what needs an operator (FAILED_PRECONDITION: missing file or role; PERMISSION_DENIED:
  // the role may not be assumed; INVALID_ARGUMENT: malformed answer or configuration).
  virtual void Fetch(absl::Time now, Callback done) = 0;
  // How often credentials that never expire are fetched again, so that a rotated Secret file
  // is picked up without a restart. Infinite: never.
  virtual absl::Duration RecheckInterval() const { return absl::InfiniteDuration(); }
  // Names the kind of source in logs and metrics: "env", "access_key_file", "ecs_ram_role",
  // "oidc_role_arn", "ram_role_arn", ...
  virtual std::string Kind() const = 0;
};

// `text` with every occurrence of the secret and the security token (raw, percent-encoded
// once and twice, as they appear in an echoed string-to-sign) replaced by "<redacted>". For
// upstream text that may echo what was signed before it reaches a log or a status.
std::string RedactSecrets(std::string text, const Credentials& credentials);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_H_

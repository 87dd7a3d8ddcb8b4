// Credentials: an immutable snapshot of what the gateway signs with, and the seam that hands
// them out. credentials.md §5.
//
// A request is signed with exactly one snapshot, so a refresh can never tear a key id from its
// secret or token. Snapshots are shared as shared_ptr<const Credentials>; thread-safe.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_H_

#include <memory>
#include <string>

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

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Returns the snapshot to sign with at `now`. Must not block on I/O on the hot path.
  virtual absl::StatusOr<std::shared_ptr<const Credentials>> Get(absl::Time now) = 0;
};

// Credentials that never change (a plain AccessKey, or a fixed STS triple).
class StaticCredentialsProvider : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials)
      : credentials_(std::make_shared<const Credentials>(std::move(credentials))) {}
  absl::StatusOr<std::shared_ptr<const Credentials>> Get(absl::Time now) override;

 private:
  const std::shared_ptr<const Credentials> credentials_;
};

// `text` with every occurrence of the secret and the security token (raw, percent-encoded
// once and twice, as they appear in an echoed string-to-sign) replaced by "<redacted>". For
// upstream text that may echo what was signed before it reaches a log or a status.
std::string RedactSecrets(std::string text, const Credentials& credentials);

// Reads ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET (both required, non-empty)
// and ALIBABA_CLOUD_SECURITY_TOKEN (optional). The error names the missing variables.
absl::StatusOr<Credentials> CredentialsFromEnvironment();

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_H_

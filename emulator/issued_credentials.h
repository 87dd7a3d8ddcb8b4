// IssuedCredentialStore: the STS credentials the emulator has handed out (through IMDS,
// AssumeRoleWithOIDC and AssumeRole), so its IoT API can accept them until they expire and
// then answer InvalidSecurityToken.Expired, as the real service does (README.md, "Issued
// credentials").
//
// Bounded: entries expired for longer than kGrace are pruned, and past kMaxEntries the entry
// that expires first goes. A pruned key id is then unknown (InvalidAccessKeyId.NotFound).
// Thread-safe. The id generator must outlive the store.
#ifndef OTAVERIFY_EMULATOR_ISSUED_CREDENTIALS_H_
#define OTAVERIFY_EMULATOR_ISSUED_CREDENTIALS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "emulator/id_generator.h"

namespace otaverify {
namespace emulator {

struct IssuedCredential {
  std::string access_key_id;      // "STS." + 28 alphanumerics
  std::string access_key_secret;  // 30 alphanumerics
  std::string security_token;     // "CAIS" + base64 (with '+', '/' and '=': tests the encoding)
  absl::Time issued_at;
  absl::Time expiration;  // whole seconds; valid while now < expiration
};

class IssuedCredentialStore {
 public:
  static constexpr size_t kMaxEntries = 4096;
  static constexpr absl::Duration kGrace = absl::Hours(1);

  explicit IssuedCredentialStore(IdGenerator* ids) : ids_(ids) {}

  IssuedCredentialStore(const IssuedCredentialStore&) = delete;
  IssuedCredentialStore& operator=(const IssuedCredentialStore&) = delete;

  // Mints a fresh triple issued at `now`, expiring at `expiration` truncated to the second
  // (which may already be past, for the IMDS `imds_expired` fault), and remembers it.
  IssuedCredential Issue(absl::Time now, absl::Time expiration);
  std::optional<IssuedCredential> Find(absl::string_view access_key_id) const;
  size_t size() const;
  // Every remembered triple, secrets included: for GET /_emulator/credentials/issued, which
  // lets a test check that none of them ever reached a log line.
  std::vector<IssuedCredential> All() const;
  // Forgets every issued credential (POST /_emulator/reset).
  void Clear();

 private:
  IdGenerator* const ids_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, IssuedCredential> by_id_ ABSL_GUARDED_BY(mu_);
};

// "YYYY-MM-DDThh:mm:ssZ" (STS Expiration, IMDS Expiration and LastUpdated).
std::string FormatUtcSeconds(absl::Time t);

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_ISSUED_CREDENTIALS_H_

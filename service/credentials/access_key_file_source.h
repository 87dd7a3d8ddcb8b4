// AccessKeyFileSource: an AccessKey (and optional STS token) in files, as a Kubernetes Secret
// mounted as a volume presents it (credentials.md §1).
//
// The files are re-read on every Fetch (a few small reads) and RecheckInterval() is 30 s, so a
// rotated Secret is picked up without a restart. The kubelet rotates a Secret volume by
// swapping a symlink; the files are read through it, and the set is read twice and must agree,
// so a swap between two reads never yields a key id of one Secret with the secret of the other.
// Thread-safe: no mutable state.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_ACCESS_KEY_FILE_SOURCE_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_ACCESS_KEY_FILE_SOURCE_H_

#include <string>

#include "absl/time/time.h"
#include "service/credentials/credentials.h"

namespace otaverify {

inline constexpr char kDefaultSecretDirectory[] = "/var/run/secrets/otaverify";

class AccessKeyFileSource : public CredentialsSource {
 public:
  struct Options {
    std::string access_key_id_file;
    std::string access_key_secret_file;
    // Optional. A missing file means a plain AccessKey; an empty one is an error.
    std::string security_token_file;
  };

  // The files access_key_id, access_key_secret and (optional) security_token in `directory`.
  static Options InDirectory(const std::string& directory = kDefaultSecretDirectory);

  explicit AccessKeyFileSource(Options options) : options_(std::move(options)) {}

  // Inline. FAILED_PRECONDITION naming the file (never its content) when a required file is
  // missing, unreadable or empty; UNAVAILABLE when the files kept changing while being read.
  void Fetch(absl::Time now, Callback done) override;
  absl::Duration RecheckInterval() const override { return absl::Seconds(30); }
  std::string Kind() const override { return "access_key_file"; }

 private:
  absl::StatusOr<Credentials> ReadOnce() const;

  const Options options_;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_ACCESS_KEY_FILE_SOURCE_H_

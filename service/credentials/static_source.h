// StaticSource: credentials fixed at start-up (a plain AccessKey or a fixed STS triple from the
// environment or configuration, credentials.md §1). Immutable; thread-safe.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_STATIC_SOURCE_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_STATIC_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/credentials/credentials.h"

namespace otaverify {

class StaticSource : public CredentialsSource {
 public:
  // Kind() is `credentials.source` ("env", "static"); "static" when that is empty.
  explicit StaticSource(Credentials credentials);

  // Hands out the same credentials, inline.
  void Fetch(absl::Time now, Callback done) override;
  std::string Kind() const override { return credentials_.source; }

 private:
  const Credentials credentials_;
};

// A StaticSource over ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and the
// optional ALIBABA_CLOUD_SECURITY_TOKEN of the process environment (CredentialsFromEnvironment,
// whose FAILED_PRECONDITION names the missing variables).
absl::StatusOr<std::unique_ptr<CredentialsSource>> EnvironmentCredentials();

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_STATIC_SOURCE_H_

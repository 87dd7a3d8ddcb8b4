#include "service/credentials/static_source.h"

#include <utility>

#include "service/credentials/environment.h"

namespace otaverify {
namespace {

Credentials WithSource(Credentials credentials) {
  if (credentials.source.empty()) credentials.source = "static";
  return credentials;
}

}  // namespace

StaticSource::StaticSource(Credentials credentials)
    : credentials_(WithSource(std::move(credentials))) {}

void StaticSource::Fetch(absl::Time now, Callback done) { std::move(done)(credentials_); }

absl::StatusOr<std::unique_ptr<CredentialsSource>> EnvironmentCredentials() {
  absl::StatusOr<Credentials> credentials = CredentialsFromEnvironment(ProcessEnvironment());
  if (!credentials.ok()) return credentials.status();
  return std::make_unique<StaticSource>(*std::move(credentials));
}

}  // namespace otaverify

#include "service/credentials/source_from_environment.h"

#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/credentials/ecs_ram_role_source.h"
#include "service/credentials/environment.h"
#include "service/credentials/oidc_role_source.h"
#include "service/credentials/profile_source.h"
#include "service/credentials/static_source.h"

namespace otaverify {
namespace {

using SourcePtr = std::unique_ptr<CredentialsSource>;

constexpr const char* kRrsaVariables[] = {
    "ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE"};

bool FileExists(const std::string& path) {
  struct stat st;
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

}  // namespace

absl::StatusOr<SourcePtr> SourceFromEnvironment(const SourceDeps& deps) {
  const Environment& env = deps.env;

  // 1. Static AccessKey.
  if (!env("ALIBABA_CLOUD_ACCESS_KEY_ID").empty() ||
      !env("ALIBABA_CLOUD_ACCESS_KEY_SECRET").empty()) {
    absl::StatusOr<Credentials> credentials = CredentialsFromEnvironment(env);
    if (!credentials.ok()) return credentials.status();
    return SourcePtr(std::make_unique<StaticSource>(*std::move(credentials)));
  }

  // 2. RRSA.
  std::vector<std::string> rrsa_set, rrsa_missing;
  for (const char* name : kRrsaVariables) {
    (env(name).empty() ? rrsa_missing : rrsa_set).push_back(name);
  }
  if (!rrsa_set.empty()) {
    if (!rrsa_missing.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("RRSA is half configured: ", absl::StrJoin(rrsa_set, ", "), " set but ",
                       absl::StrJoin(rrsa_missing, ", "), " not"));
    }
    absl::StatusOr<std::unique_ptr<OidcRoleSource>> oidc = OidcRoleSource::Create(
        deps.transport,
        OidcRoleSource::OptionsFromEnvironment(env, deps.allow_insecure_sts_endpoint), deps.clock);
    if (!oidc.ok()) return oidc.status();
    return SourcePtr(*std::move(oidc));
  }

  // 3. Profile file: the default path only if it exists; an explicit one must.
  const std::string path = CredentialsFilePath(env);
  const bool explicit_file = !env("ALIBABA_CLOUD_CREDENTIALS_FILE").empty();
  const bool explicit_profile = !env("ALIBABA_CLOUD_PROFILE").empty();
  if (FileExists(path) || explicit_file) {
    return ProfileFromFile(path, ProfileName(env), deps);
  }
  if (explicit_profile) {
    return absl::FailedPreconditionError(
        absl::StrCat("ALIBABA_CLOUD_PROFILE names a profile but there is no credentials file at ",
                     path.empty() ? "~/.alibabacloud/credentials (HOME is unset)" : path));
  }

  // 4. ECS instance RAM role.
  if (!EnvironmentFlag(env, "ALIBABA_CLOUD_ECS_METADATA_DISABLED")) {
    absl::StatusOr<std::unique_ptr<EcsRamRoleSource>> ecs = EcsRamRoleSource::Create(
        deps.transport, EcsRamRoleSource::OptionsFromEnvironment(env), deps.clock);
    if (!ecs.ok()) return ecs.status();
    return SourcePtr(*std::move(ecs));
  }

  return absl::FailedPreconditionError(absl::StrCat(
      "no credentials configured: ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET "
      "unset; RRSA (",
      absl::StrJoin(kRrsaVariables, ", "), ") unset; no credentials file at ",
      path.empty() ? "~/.alibabacloud/credentials (HOME is unset)" : path,
      "; ECS metadata disabled by ALIBABA_CLOUD_ECS_METADATA_DISABLED=true"));
}

}  // namespace otaverify

// Credentials profiles: the source a named section of the credentials file describes
// (credentials.md §1), with the official key names:
//
//   type = access_key     access_key_id, access_key_secret
//   type = ecs_ram_role   [role_name]  (IMDS endpoint and IMDSv1 switch from the environment)
//   type = ram_role_arn   access_key_id, access_key_secret, role_arn, [role_session_name,
//                         policy, external_id, duration_seconds, sts_endpoint, sts_region]
//   type = oidc_role_arn  role_arn, oidc_provider_arn, oidc_token_file_path,
//                         [role_session_name, policy, duration_seconds, sts_endpoint,
//                         sts_region]
//
// The source is built once, when the profile is read (the official Java library builds a new
// inner provider, and calls STS, per request). Free functions; thread-safe.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_PROFILE_SOURCE_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_PROFILE_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/credentials/credentials.h"
#include "service/credentials/credentials_ini.h"
#include "service/credentials/source_deps.h"

namespace otaverify {

// The source of profile `profile` in `ini`. INVALID_ARGUMENT naming the profile and the key
// (never a value) for a missing profile, unknown type, missing key or bad value.
absl::StatusOr<std::unique_ptr<CredentialsSource>> ProfileFromIni(const CredentialsIni& ini,
                                                                  absl::string_view profile,
                                                                  const SourceDeps& deps);

// ProfileFromIni over the file at `path`; FAILED_PRECONDITION when it cannot be read.
absl::StatusOr<std::unique_ptr<CredentialsSource>> ProfileFromFile(const std::string& path,
                                                                   absl::string_view profile,
                                                                   const SourceDeps& deps);

// ALIBABA_CLOUD_CREDENTIALS_FILE, else $HOME/.alibabacloud/credentials ("" without HOME).
std::string CredentialsFilePath(const Environment& env);
// ALIBABA_CLOUD_PROFILE, else "default".
std::string ProfileName(const Environment& env);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_PROFILE_SOURCE_H_

// SourceFromEnvironment: the one credentials source the environment configures, chosen once at
// start-up (credentials.md §5.2), in this order:
//
//   1. ALIBABA_CLOUD_ACCESS_KEY_ID + ALIBABA_CLOUD_ACCESS_KEY_SECRET (+ optional token)
//   2. RRSA: ALIBABA_CLOUD_ROLE_ARN + ALIBABA_CLOUD_OIDC_PROVIDER_ARN +
//      ALIBABA_CLOUD_OIDC_TOKEN_FILE
//   3. the profile ALIBABA_CLOUD_PROFILE (default "default") of the credentials file
//      ALIBABA_CLOUD_CREDENTIALS_FILE (default ~/.alibabacloud/credentials), if it exists
//   4. the ECS instance RAM role, unless ALIBABA_CLOUD_ECS_METADATA_DISABLED=true
//
// The chosen source never falls through to another at run time: on ACK, the official default
// chain turns a pod whose RRSA exchange failed once into the node's instance role (§4). A
// half-configured source (one AccessKey variable, two of the three RRSA variables, an explicit
// credentials file or profile that cannot be read) is an error, not a reason to look further.
// Thread-safe as far as deps.env is.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_SOURCE_FROM_ENVIRONMENT_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_SOURCE_FROM_ENVIRONMENT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "service/credentials/credentials.h"
#include "service/credentials/source_deps.h"

namespace otaverify {

// FAILED_PRECONDITION naming everything looked at when nothing is configured; the chosen
// source's own configuration error (INVALID_ARGUMENT, FAILED_PRECONDITION) otherwise.
absl::StatusOr<std::unique_ptr<CredentialsSource>> SourceFromEnvironment(const SourceDeps& deps);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_SOURCE_FROM_ENVIRONMENT_H_

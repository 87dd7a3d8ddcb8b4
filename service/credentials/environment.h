// Environment: how credential sources read ALIBABA_CLOUD_* configuration, as a parameter, so
// that choosing a source is hermetic in tests (credentials.md §1). Also the file reading every
// file-based source shares.
//
// An Environment is a copyable function; ProcessEnvironment() reads the process environment
// (getenv is thread-safe as long as nobody calls setenv concurrently, which the gateway never
// does after start-up). MapEnvironment is immutable and thread-safe.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_ENVIRONMENT_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_ENVIRONMENT_H_

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/credentials/credentials.h"

namespace otaverify {

// The value of a variable; "" when it is unset (an empty variable counts as unset, as it does
// for every official library).
using Environment = std::function<std::string(absl::string_view name)>;

Environment ProcessEnvironment();
Environment MapEnvironment(std::map<std::string, std::string> variables);

// True when the variable is "true" in any letter case (the official libraries' rule).
bool EnvironmentFlag(const Environment& env, absl::string_view name);

// Reads ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET (both required, non-empty)
// and ALIBABA_CLOUD_SECURITY_TOKEN (optional) from `env`. The error names the missing
// variables. Credentials.source is "env".
absl::StatusOr<Credentials> CredentialsFromEnvironment(const Environment& env);

// The whole file at `path` (symlinks followed), with trailing ASCII whitespace (the newline an
// editor or `kubectl create secret --from-file` leaves) removed. `what` names the file's role
// in errors. Missing, unreadable or empty: FAILED_PRECONDITION naming `what` and `path`, never
// the content.
absl::StatusOr<std::string> ReadSecretFile(absl::string_view what, const std::string& path);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_ENVIRONMENT_H_

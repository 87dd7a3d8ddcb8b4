// Reading what the credential endpoints answer: the ECS metadata service's and STS's JSON
// (credentials.md §2, §3), and their Expiration timestamps. Pure functions; thread-safe.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIAL_ANSWER_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIAL_ANSWER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/credentials/credentials.h"
#include "service/transport/http_transport.h"

namespace otaverify {

// "2017-11-01T05:20:01Z" or "2017-11-01T05:20:01.123Z" (or with a numeric UTC offset), read
// as UTC whatever the process's TZ: the legacy C++ SDK read it as local time (§4).
// INVALID_ARGUMENT when malformed; the text is quoted (it is not secret).
absl::StatusOr<absl::Time> ParseExpiration(absl::string_view text);

// The body of GET .../ram/security-credentials/<role>. `Code` other than "Success":
// UNAVAILABLE naming the code (the platform may not have issued credentials yet). Missing
// fields or bad JSON: INVALID_ARGUMENT. Credentials.source is `source`.
absl::StatusOr<Credentials> ParseEcsRamRoleCredentials(absl::string_view body,
                                                       absl::string_view source);

// An STS answer to `action` (AssumeRole, AssumeRoleWithOIDC) → credentials, or the error as
// CredentialsSource documents it: Throttling*, 5xx, ServiceUnavailable, InternalError,
// SignatureNonceUsed, InvalidSecurityToken.* and an expired OIDC token → UNAVAILABLE;
// InvalidTimeStamp.* (clock skew) → FAILED_PRECONDITION; 401, 403, NoPermission,
// AuthenticationFail.*, EntityNotExist.*, InvalidAccessKeyId.*, SignatureDoesNotMatch →
// PERMISSION_DENIED; other 4xx and malformed answers → INVALID_ARGUMENT. The message names the
// action, HTTP status, STS Code and RequestId; every string in `secrets` (raw or
// percent-encoded) is redacted from the echoed STS message.
absl::StatusOr<Credentials> ReadStsAnswer(const HttpResponse& response, absl::string_view action,
                                          absl::string_view source,
                                          const std::vector<std::string>& secrets);

// The STS Code of an error answer ("" when none can be read), for callers that react to it.
std::string StsErrorCode(const HttpResponse& response);

// A transport failure (http_transport.h) of a credentials request: UNAVAILABLE whatever the
// transport's code, since a fetch may always simply be retried (it changes nothing upstream).
absl::Status CredentialsTransportFailure(const absl::Status& failure, absl::string_view what);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIAL_ANSWER_H_

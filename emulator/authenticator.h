// Authenticator: the gateway layer of the emulated service. It parses an RPC request (query +
// form body), recognises V1 or V3 signing (protocol.md §4, §5) and applies the service's
// checks in order: access key, security token, timestamp format, timestamp skew, signature,
// nonce reuse, API version. Failures are gateway-layer ApiErrors (HTTP 4xx).
//
// Two kinds of keys are accepted: the configured AccessKey, and STS credentials the emulator
// issued itself (issued_credentials.h), each with its own security token and expiry.
//
// Signatures are recomputed with the gateway's own signer functions (service/aliyun/signer.h):
// the emulator is a fake of the protocol, not a second implementation of it; the signer itself
// is pinned against the official SDKs' vectors elsewhere.
//
// Thread-safe. The clock must outlive the Authenticator.
#ifndef OTAVERIFY_EMULATOR_AUTHENTICATOR_H_
#define OTAVERIFY_EMULATOR_AUTHENTICATOR_H_

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "emulator/api_error.h"
#include "emulator/issued_credentials.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {

inline constexpr char kApiVersion[] = "2018-01-20";
// How far a request's timestamp may be from the emulator's clock, and how long a nonce is
// remembered (protocol.md §4, §5: "about 15 minutes").
inline constexpr absl::Duration kTimestampWindow = absl::Minutes(15);

struct AccessKey {
  std::string id;
  std::string secret;
  // Empty: plain AccessKey, a SecurityToken in requests is ignored. Otherwise requests must
  // carry exactly this token (STS credentials).
  std::string security_token;
};

// An HTTP request as received, independent of the HTTP library.
struct RpcHttpRequest {
  std::string method;
  std::string target;  // raw request target, "/?a=b", still percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;

  // The first value of header `name` (lower-case), or nullptr.
  const std::string* Header(absl::string_view name) const;
};

// What authentication learned. Filled progressively, so on failure the fields known so far
// (json, action) still tell the caller how to render the error and what to count.
struct AuthenticatedCall {
  bool json = false;  // V1 defaults to XML unless Format=JSON; V3 is always JSON
  std::string action;
  std::string api_version;
  std::string access_key_id;
  std::map<std::string, std::string> business_params;  // common parameters removed
};

// Remembers (key id, nonce) pairs for a time window, bounded in size: when full the oldest
// entries go first, which can only let an old replay through, never reject a fresh nonce.
class NonceCache {
 public:
  NonceCache(absl::Duration window, size_t max_entries)
      : window_(window), max_entries_(max_entries) {}

  // False if the pair was seen within the window before `now`; otherwise records it.
  bool Insert(absl::string_view key_id, absl::string_view nonce, absl::Time now);
  void Clear();

 private:
  const absl::Duration window_;
  const size_t max_entries_;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<absl::Time, std::string>> order_ ABSL_GUARDED_BY(mu_);
};

class Authenticator {
 public:
  static constexpr size_t kMaxNonces = 1 << 20;

  // `issued` may be null (only `key` is accepted); otherwise it must outlive the
  // Authenticator.
  Authenticator(AccessKey key, const Clock* clock, const IssuedCredentialStore* issued = nullptr)
      : key_(std::move(key)),
        clock_(clock),
        issued_(issued),
        nonces_(kTimestampWindow, kMaxNonces) {}

  // REQUIRES: the request path is "/". Does not check the action name. The request's Version
  // must be `api_version` (InvalidVersion otherwise).
  std::optional<ApiError> Authenticate(const RpcHttpRequest& request, AuthenticatedCall* call,
                                       absl::string_view api_version = kApiVersion);

  // Forgets every nonce.
  void Reset() { nonces_.Clear(); }

 private:
  const AccessKey key_;
  const Clock* const clock_;
  const IssuedCredentialStore* const issued_;
  NonceCache nonces_;
};

// Splits "a=1&b=%20" into decoded pairs (PercentDecode: '+' stays '+'). False on a malformed
// escape.
bool ParseQueryString(absl::string_view query,
                      std::vector<std::pair<std::string, std::string>>* out);

// The RPC parameters of `request`: its query plus an application/x-www-form-urlencoded body,
// in wire order (`params`) and by name (`by_name`). A gateway-layer InvalidParameter for a
// malformed escape or a parameter given twice.
std::optional<ApiError> ParseRpcParams(const RpcHttpRequest& request,
                                       std::vector<std::pair<std::string, std::string>>* params,
                                       std::map<std::string, std::string>* by_name);

// The action / API version a request names, read without authenticating it: x-acs-action /
// x-acs-version (V3), else Action / Version in the query or the form body (V1). Empty if
// absent or unparsable.
std::string PeekAction(const RpcHttpRequest& request);
std::string PeekVersion(const RpcHttpRequest& request);

// Parses the strict "YYYY-MM-DDThh:mm:ssZ" of both signatures; false otherwise.
bool ParseAliyunTime(absl::string_view text, absl::Time* out);

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_AUTHENTICATOR_H_

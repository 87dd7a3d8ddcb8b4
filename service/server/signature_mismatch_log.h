// SignatureMismatchLog: when the upstream answers SignatureDoesNotMatch, puts the gateway's
// string to sign next to the server's in one warning line, so an operator can diff them
// (`otaverify sign` reproduces ours offline). protocol.md §8: the server's string to sign holds
// no secret, but with STS credentials both hold the security token, so both are redacted.
//
// Logs once per distinct mismatch: per signature version, action, set of parameter names and
// access key id; every request has its own nonce and time, so the strings themselves never
// repeat. Thread-safe.
#ifndef OTAVERIFY_SERVICE_SERVER_SIGNATURE_MISMATCH_LOG_H_
#define OTAVERIFY_SERVICE_SERVER_SIGNATURE_MISMATCH_LOG_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "service/aliyun/rpc_request.h"
#include "service/credentials/credentials.h"

namespace otaverify {

class SignatureMismatchLog {
 public:
  // Returns true if this mismatch was logged, false if one of its kind already was.
  bool Report(const RpcCall& call, SignatureVersion version, absl::string_view our_string_to_sign,
              absl::string_view upstream_message, absl::string_view upstream_request_id,
              const Credentials& credentials);

 private:
  // Bound on remembered kinds; past it the set starts over (a kind may then log again).
  static constexpr size_t kMaxKinds = 1024;

  absl::Mutex mu_;
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

// The server's string to sign from a SignatureDoesNotMatch message ("... server string to sign
// is:GET&%2F&..."), or empty if the message carries none.
std::string ServerStringToSign(absl::string_view upstream_message);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_SIGNATURE_MISMATCH_LOG_H_

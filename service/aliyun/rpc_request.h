// Builds a signed Alibaba Cloud RPC-style HTTP request (protocol.md §1, §4, §5).
//
// Pure: the time and the nonce are parameters, so a retry is simply another call with a fresh
// nonce and time (a re-sent signature fails with SignatureNonceUsed). Thread-safe.
#ifndef OTAVERIFY_SERVICE_ALIYUN_RPC_REQUEST_H_
#define OTAVERIFY_SERVICE_ALIYUN_RPC_REQUEST_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/aliyun/signer.h"
#include "service/credentials/credentials.h"
#include "service/transport/http_transport.h"

namespace otaverify {

enum class SignatureVersion { kV1, kV3 };

// "v1" / "v3"; anything else is INVALID_ARGUMENT.
absl::StatusOr<SignatureVersion> ParseSignatureVersion(absl::string_view text);

// Where requests go: a base URL without path ("https://iot.cn-shanghai.aliyuncs.com",
// "http://127.0.0.1:18080").
struct Endpoint {
  std::string base_url;  // scheme://authority
  std::string host;      // authority, as sent in the Host header (and signed by V3)
  bool secure = true;
};

// Accepts scheme://host[:port][/]; rejects other paths, queries, user info and schemes.
absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view url);

struct RpcCall {
  std::string action;
  std::string version = "2018-01-20";
  Params params;  // business parameters, flattened, none empty
};

// Timestamp format of both signatures: "YYYY-MM-DDThh:mm:ssZ", UTC, no fraction.
std::string FormatAliyunTime(absl::Time t);

// POST / with every parameter in the query and an empty body, as the official SDK sends it.
HttpRequest BuildSignedRequest(const RpcCall& call, const Credentials& credentials,
                               const Endpoint& endpoint, SignatureVersion version, absl::Time now,
                               absl::string_view nonce);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_ALIYUN_RPC_REQUEST_H_

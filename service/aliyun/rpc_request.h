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
  // The wire method, which V1 signs. Parameters always travel in the query string.
  std::string method = "POST";
  // Extra headers to send and sign with V3 (lower-case x-acs-* names); ignored by V1.
  Params extra_signed_headers;
};

// Timestamp format of both signatures: "YYYY-MM-DDThh:mm:ssZ", UTC, no fraction.
std::string FormatAliyunTime(absl::Time t);

// One signed request and every stage of its signature, for the gateway's mismatch log, the
// `otaverify sign` debugger and tests. Holds the signature, never the secret.
struct SignedRequest {
  HttpRequest request;
  // V1: the canonical query (every parameter but Signature). V3: the canonical request.
  std::string canonical;
  std::string string_to_sign;
  std::string signature;
  std::string authorization;  // V3 only
};

// `call.method` / with every parameter in the query and an empty body, as the official SDK
// sends it. V1 adds the common parameters (Action, Version, Format=JSON, AccessKeyId,
// SignatureMethod, SignatureVersion, SignatureNonce, Timestamp, SecurityToken); a business
// parameter of the same name replaces the common one (for reproducing foreign requests in the
// debugger; the gateway never sends one). V3 signs host, x-acs-action, x-acs-version,
// x-acs-date, x-acs-signature-nonce, x-acs-content-sha256, x-acs-security-token.
SignedRequest SignRpcCall(const RpcCall& call, const Credentials& credentials,
                          const Endpoint& endpoint, SignatureVersion version, absl::Time now,
                          absl::string_view nonce);

// SignRpcCall(...).request.
HttpRequest BuildSignedRequest(const RpcCall& call, const Credentials& credentials,
                               const Endpoint& endpoint, SignatureVersion version, absl::Time now,
                               absl::string_view nonce);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_ALIYUN_RPC_REQUEST_H_

// Alibaba Cloud OpenAPI request signing: percent-encoding, V1 (HMAC-SHA1) and
// V3 (ACS3-HMAC-SHA256) canonical strings and signatures. protocol.md §2–§5.
//
// Pure functions: no clock, no randomness, no I/O. Each stage (canonical string, string to
// sign, signature) is exposed on its own so tests can pin every one of them against the
// official SDK's output. Thread-safe.
#ifndef OTAVERIFY_SERVICE_ALIYUN_SIGNER_H_
#define OTAVERIFY_SERVICE_ALIYUN_SIGNER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace otaverify {

// Name/value pairs, flattened (protocol.md §2). Order does not matter to the signer.
using Params = std::vector<std::pair<std::string, std::string>>;

// RFC 3986 over the UTF-8 bytes: A-Z a-z 0-9 - _ . ~ stay, every other byte becomes %XX with
// upper-case hex. Space is %20, '*' is %2A, '~' stays. The one encoder used everywhere.
std::string PercentEncode(absl::string_view in);

// Inverse of PercentEncode for query strings; '+' is kept as '+' (the service never receives
// form-style spaces from a correct signer). Returns false on a malformed escape.
bool PercentDecode(absl::string_view in, std::string* out);

// join("&", encode(name) "=" encode(value)) in the given order: a query string or form body.
std::string EncodeParams(const Params& params);

// join("&", sorted(encode(name) "=" encode(value))), sorted byte-wise by raw name (then value).
// Used as the V1 canonical query and the V3 canonical query.
std::string CanonicalQuery(Params params);

// V1: METHOD "&" encode("/") "&" encode(canonical_query).
std::string StringToSignV1(absl::string_view method, absl::string_view canonical_query);
// V1: base64(HMAC-SHA1(secret + "&", string_to_sign)).
std::string SignatureV1(absl::string_view access_key_secret, absl::string_view string_to_sign);

// V3 canonical request. `signed_headers` are lower-case names with their values; they are
// sorted here and values are trimmed. `body_sha256_hex` is the hex SHA-256 of the body.
struct CanonicalRequestV3 {
  std::string canonical_request;
  std::string signed_header_names;  // "host;x-acs-action;..."
};
CanonicalRequestV3 BuildCanonicalRequestV3(absl::string_view method,
                                           absl::string_view canonical_query, Params signed_headers,
                                           absl::string_view body_sha256_hex);
// V3: "ACS3-HMAC-SHA256\n" hex(SHA-256(canonical_request)).
std::string StringToSignV3(absl::string_view canonical_request);
// V3: hex(HMAC-SHA256(secret, string_to_sign)).
std::string SignatureV3(absl::string_view access_key_secret, absl::string_view string_to_sign);
// "ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<names>,Signature=<sig>".
std::string AuthorizationV3(absl::string_view access_key_id, absl::string_view signed_header_names,
                            absl::string_view signature);

std::string Sha256Hex(absl::string_view data);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_ALIYUN_SIGNER_H_

// SignatureNonce generation: a random (version 4) UUID per signed request, so a retry is never
// mistaken for a replay (SignatureNonceUsed, protocol.md §4). Thread-safe.
#ifndef OTAVERIFY_SERVICE_ALIYUN_NONCE_H_
#define OTAVERIFY_SERVICE_ALIYUN_NONCE_H_

#include <string>

namespace otaverify {

std::string NewNonce();

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_ALIYUN_NONCE_H_

#include "service/aliyun/nonce.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace otaverify {

std::string NewNonce() {
  thread_local absl::BitGen gen;
  const uint64_t hi = absl::Uniform<uint64_t>(gen);
  const uint64_t lo = absl::Uniform<uint64_t>(gen);
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFF,
                         ((lo >> 48) & 0x3FFF) | 0x8000, lo & 0xFFFFFFFFFFFF);
}

}  // namespace otaverify

#include "emulator/id_generator.h"

namespace otaverify {
namespace emulator {

std::string IdGenerator::RequestId() {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out(36, '-');
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < out.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    out[i] = kHex[absl::Uniform(gen_, 0, 16)];
  }
  return out;
}

std::string IdGenerator::JobId() {
  static constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out(26, '0');
  absl::MutexLock lock(&mu_);
  for (char& c : out) c = kAlnum[absl::Uniform(gen_, 0, 62)];
  return out;
}

std::string IdGenerator::RandomString(absl::string_view alphabet, size_t length) {
  std::string out(length, ' ');
  absl::MutexLock lock(&mu_);
  for (char& c : out) c = alphabet[absl::Uniform<size_t>(gen_, 0, alphabet.size())];
  return out;
}

}  // namespace emulator
}  // namespace otaverify

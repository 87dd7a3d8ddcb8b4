#include "emulator/issued_credentials.h"

#include <utility>

namespace otaverify {
namespace emulator {
namespace {

constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string FormatUtcSeconds(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

IssuedCredential IssuedCredentialStore::Issue(absl::Time now, absl::Time expiration) {
  IssuedCredential issued;
  issued.access_key_id = "STS." + ids_->RandomString(kAlnum, 28);
  issued.access_key_secret = ids_->RandomString(kAlnum, 30);
  // Real tokens are ~600 base64 characters starting "CAIS"; the padding makes sure a client
  // percent-encodes '+', '/' and '='.
  issued.security_token = "CAIS" + ids_->RandomString(kBase64, 254) + "==";
  issued.issued_at = now;
  issued.expiration = absl::FromUnixSeconds(absl::ToUnixSeconds(expiration));

  absl::MutexLock lock(&mu_);
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (it->second.expiration + kGrace < now) {
      by_id_.erase(it++);
    } else {
      ++it;
    }
  }
  while (by_id_.size() >= kMaxEntries) {
    auto first = by_id_.begin();
    for (auto it = by_id_.begin(); it != by_id_.end(); ++it) {
      if (it->second.expiration < first->second.expiration) first = it;
    }
    by_id_.erase(first);
  }
  by_id_.emplace(issued.access_key_id, issued);
  return issued;
}

std::optional<IssuedCredential> IssuedCredentialStore::Find(absl::string_view access_key_id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(access_key_id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

size_t IssuedCredentialStore::size() const {
  absl::MutexLock lock(&mu_);
  return by_id_.size();
}

std::vector<IssuedCredential> IssuedCredentialStore::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<IssuedCredential> all;
  all.reserve(by_id_.size());
  for (const auto& [id, credential] : by_id_) all.push_back(credential);
  return all;
}

void IssuedCredentialStore::Clear() {
  absl::MutexLock lock(&mu_);
  by_id_.clear();
}

}  // namespace emulator
}  // namespace otaverify

#include "service/credentials/credentials.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "service/aliyun/signer.h"

namespace otaverify {

std::string Credentials::Describe() const {
  // Key ids are not secret, but a prefix is all an operator needs to tell keys apart.
  return absl::StrCat(access_key_id.substr(0, 8), "*** from ", source,
                      security_token.empty() ? "" : " (STS)");
}

void StaticCredentialsProvider::Get(absl::Time now, Callback done) {
  if (now >= credentials_->expiration) {
    std::move(done)(absl::UnavailableError(
        absl::StrCat("credentials ", credentials_->Describe(), " expired")));
    return;
  }
  std::move(done)(credentials_);
}

std::string RedactSecrets(std::string text, const Credentials& credentials) {
  for (const std::string* secret : {&credentials.access_key_secret, &credentials.security_token}) {
    if (secret->empty()) continue;
    const std::string once = PercentEncode(*secret);
    const std::string twice = PercentEncode(once);
    text = absl::StrReplaceAll(text, {{*secret, "<redacted>"}});
    if (once != *secret) text = absl::StrReplaceAll(text, {{once, "<redacted>"}});
    if (twice != once) text = absl::StrReplaceAll(text, {{twice, "<redacted>"}});
  }
  return text;
}

}  // namespace otaverify

#include "service/server/signature_mismatch_log.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/common/log.h"

namespace otaverify {

std::string ServerStringToSign(absl::string_view upstream_message) {
  constexpr absl::string_view kMarker = "string to sign is:";
  const size_t at = upstream_message.find(kMarker);
  if (at == absl::string_view::npos) return "";
  return std::string(absl::StripAsciiWhitespace(upstream_message.substr(at + kMarker.size())));
}

bool SignatureMismatchLog::Report(const RpcCall& call, SignatureVersion version,
                                  absl::string_view our_string_to_sign,
                                  absl::string_view upstream_message,
                                  absl::string_view upstream_request_id,
                                  const Credentials& credentials) {
  std::vector<absl::string_view> names;
  for (const auto& param : call.params) names.push_back(param.first);
  std::sort(names.begin(), names.end());
  std::string kind = absl::StrCat(version == SignatureVersion::kV1 ? "v1" : "v3", " ", call.action,
                                  " ", credentials.access_key_id, " ", absl::StrJoin(names, ","));
  {
    absl::MutexLock lock(&mu_);
    if (seen_.size() >= kMaxKinds) seen_.clear();
    if (!seen_.insert(std::move(kind)).second) return false;
  }
  const std::string server = ServerStringToSign(upstream_message);
  Log(LogLevel::kWarning, "upstream rejected the signature: compare the strings to sign",
      {{"action", call.action},
       {"signature_version", version == SignatureVersion::kV1 ? "v1" : "v3"},
       {"credentials", credentials.Describe()},
       {"upstream_request_id", std::string(upstream_request_id)},
       {"our_string_to_sign", RedactSecrets(std::string(our_string_to_sign), credentials)},
       {"server_string_to_sign", RedactSecrets(server, credentials)},
       {"upstream_message",
        server.empty() ? RedactSecrets(std::string(upstream_message), credentials) : ""}});
  return true;
}

}  // namespace otaverify

#include "service/credentials/environment.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace otaverify {

Environment ProcessEnvironment() {
  return [](absl::string_view name) {
    const char* value = std::getenv(std::string(name).c_str());
    return value == nullptr ? std::string() : std::string(value);
  };
}

Environment MapEnvironment(std::map<std::string, std::string> variables) {
  auto shared = std::make_shared<const std::map<std::string, std::string>>(std::move(variables));
  return [shared](absl::string_view name) {
    auto it = shared->find(std::string(name));
    return it == shared->end() ? std::string() : it->second;
  };
}

bool EnvironmentFlag(const Environment& env, absl::string_view name) {
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(env(name)), "true");
}

absl::StatusOr<Credentials> CredentialsFromEnvironment(const Environment& env) {
  Credentials out;
  out.access_key_id = env("ALIBABA_CLOUD_ACCESS_KEY_ID");
  out.access_key_secret = env("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
  out.security_token = env("ALIBABA_CLOUD_SECURITY_TOKEN");
  out.source = "env";
  std::vector<std::string> missing;
  if (out.access_key_id.empty()) missing.push_back("ALIBABA_CLOUD_ACCESS_KEY_ID");
  if (out.access_key_secret.empty()) missing.push_back("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no credentials: set ", absl::StrJoin(missing, " and "),
                     " (ALIBABA_CLOUD_SECURITY_TOKEN is optional)"));
  }
  return out;
}

absl::StatusOr<std::string> ReadSecretFile(absl::string_view what, const std::string& path) {
  if (path.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("no file configured for ", what));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", what, " file ", path, ": ", std::strerror(error)));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", what, " file ", path));
  }
  std::string text = std::move(content).str();
  absl::StripTrailingAsciiWhitespace(&text);
  if (text.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(what, " file ", path, " is empty"));
  }
  return text;
}

}  // namespace otaverify

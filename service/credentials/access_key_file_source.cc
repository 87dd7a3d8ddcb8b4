#include "service/credentials/access_key_file_source.h"

#include <sys/stat.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "service/credentials/environment.h"

namespace otaverify {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;  // follows symlinks: a dangling one is "missing"
}

bool SameTriple(const Credentials& a, const Credentials& b) {
  return a.access_key_id == b.access_key_id && a.access_key_secret == b.access_key_secret &&
         a.security_token == b.security_token;
}

}  // namespace

AccessKeyFileSource::Options AccessKeyFileSource::InDirectory(const std::string& directory) {
  Options options;
  options.access_key_id_file = absl::StrCat(directory, "/access_key_id");
  options.access_key_secret_file = absl::StrCat(directory, "/access_key_secret");
  options.security_token_file = absl::StrCat(directory, "/security_token");
  return options;
}

absl::StatusOr<Credentials> AccessKeyFileSource::ReadOnce() const {
  Credentials out;
  out.source = "access_key_file";
  absl::StatusOr<std::string> id = ReadSecretFile("access key id", options_.access_key_id_file);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> secret =
      ReadSecretFile("access key secret", options_.access_key_secret_file);
  if (!secret.ok()) return secret.status();
  out.access_key_id = *std::move(id);
  out.access_key_secret = *std::move(secret);
  if (!options_.security_token_file.empty() && Exists(options_.security_token_file)) {
    absl::StatusOr<std::string> token =
        ReadSecretFile("security token", options_.security_token_file);
    if (!token.ok()) return token.status();
    out.security_token = *std::move(token);
  }
  return out;
}

void AccessKeyFileSource::Fetch(absl::Time now, Callback done) {
  absl::StatusOr<Credentials> previous = ReadOnce();
  for (int attempt = 0; attempt < 3 && previous.ok(); ++attempt) {
    absl::StatusOr<Credentials> current = ReadOnce();
    if (current.ok() && SameTriple(*previous, *current)) {
      std::move(done)(std::move(current));
      return;
    }
    previous = std::move(current);
  }
  if (previous.ok()) {
    previous = absl::UnavailableError(absl::StrCat(
        "credential files under ", options_.access_key_id_file, " kept changing while read"));
  }
  std::move(done)(std::move(previous));
}

}  // namespace otaverify

// Fuzz target: start-up configuration. The first byte picks the input kind, the rest is the text:
//
//   even: the gateway's JSON config file (config.h: LoadConfigFile, ApplyConfigFlags on a few
//         flags of each type; profiles.h: ParseProfiles, and SourceForProfile for the kinds that
//         read no files)
//   odd:  an official credentials file (credentials_ini.h: ParseCredentialsIni;
//         profile_source.h: ProfileFromIni on every section)
//
// Properties beyond "no crash": failures are INVALID_ARGUMENT; parsed profiles are sorted,
// unique and include "default"; ini sections and keys are non-empty and trimmed; an
// access_key_secret never reaches an error message (the contract: errors name the profile and
// the key, never a value).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/common/clock.h"
#include "service/credentials/credentials_ini.h"
#include "service/credentials/environment.h"
#include "service/credentials/profile_source.h"
#include "service/server/config.h"
#include "service/server/profiles.h"
#include "tests/fuzz/require.h"

// Flags of each kind FlagText renders for, under names a config file could set.
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "fuzz: a string flag");
ABSL_FLAG(bool, allow_insecure_endpoint, false, "fuzz: a boolean flag");
ABSL_FLAG(int32_t, max_inflight, 64, "fuzz: an integer flag");
ABSL_FLAG(int64_t, deadline_ms, 1000, "fuzz: a 64-bit integer flag");
ABSL_FLAG(double, quota_ratio, 0.5, "fuzz: a floating-point flag");
ABSL_FLAG(std::vector<std::string>, regions, {}, "fuzz: a list flag");

namespace otaverify {
namespace {

// Never reached: the sources the fuzzer builds fetch nothing until asked.
class RefusingTransport : public HttpTransport {
 public:
  TransferId Send(HttpRequest, HttpCallback done) override {
    std::move(done)(absl::UnavailableError("fuzz: no network"));
    return 0;
  }
  void Cancel(TransferId) override {}
};

SourceDeps Deps() {
  static RefusingTransport* transport = new RefusingTransport();
  static ManualClock* clock = new ManualClock(absl::FromUnixSeconds(1767225600));
  SourceDeps deps;
  deps.transport = transport;
  deps.clock = clock;
  deps.env = MapEnvironment({});
  return deps;
}

// A file the config text is written to, once per input (LoadConfigFile takes a path).
const std::string& ConfigPath() {
  static const std::string* path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") +
                          "/otaverify-fuzz-config-XXXXXX";
    const int fd = mkstemp(pattern.data());
    Require(fd >= 0, "a temporary config file can be made");
    close(fd);
    return new std::string(pattern);
  }();
  return *path;
}

void FuzzConfigJson(absl::string_view text) {
  {
    std::ofstream out(ConfigPath(), std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  absl::StatusOr<google::protobuf::Struct> config = LoadConfigFile(ConfigPath());
  if (!config.ok()) {
    Require(config.status().code() == absl::StatusCode::kInvalidArgument,
            "an unreadable config is INVALID_ARGUMENT");
    return;
  }
  const absl::Status applied = ApplyConfigFlags(*config, "fuzz.json", {"listen"});
  Require(applied.ok() || applied.code() == absl::StatusCode::kInvalidArgument,
          "a bad setting is INVALID_ARGUMENT");

  absl::StatusOr<std::vector<ProfileConfig>> profiles = ParseProfiles(*config);
  if (!profiles.ok()) {
    Require(profiles.status().code() == absl::StatusCode::kInvalidArgument,
            "a bad profile is INVALID_ARGUMENT");
    return;
  }
  bool has_default = false;
  for (size_t i = 0; i < profiles->size(); ++i) {
    const ProfileConfig& profile = (*profiles)[i];
    Require(!profile.name.empty(), "profile names are not empty");
    if (i > 0) Require((*profiles)[i - 1].name < profile.name, "profiles sorted and unique");
    has_default = has_default || profile.name == "default";
    // Kinds that read no files and reach no network while being built.
    if (profile.credentials == "ecs_ram_role" || profile.credentials == "oidc_role_arn" ||
        profile.credentials == "environment") {
      auto source = SourceForProfile(profile, Deps());
      Require(!source.ok() || *source != nullptr, "a built source exists");
    }
  }
  Require(has_default, "parsed profiles include \"default\"");
}

void CheckTrimmed(absl::string_view text, bool may_be_empty, const char* property) {
  Require(may_be_empty || !text.empty(), property);
  Require(text.find('\n') == absl::string_view::npos, property);
  Require(absl::StripAsciiWhitespace(text) == text, property);
}

void FuzzCredentialsIni(absl::string_view text) {
  absl::StatusOr<CredentialsIni> ini = ParseCredentialsIni(text);
  if (!ini.ok()) {
    Require(ini.status().code() == absl::StatusCode::kInvalidArgument &&
                absl::StartsWith(ini.status().message(), "credentials file line "),
            "an ini error is INVALID_ARGUMENT naming the line");
    return;
  }
  for (const auto& [name, section] : *ini) {
    CheckTrimmed(name, false, "section names are non-empty and trimmed");
    for (const auto& [key, value] : section) {
      CheckTrimmed(key, false, "keys are non-empty and trimmed");
      Require(key.find('=') == std::string::npos, "keys hold no '='");
      CheckTrimmed(value, true, "values are trimmed");
    }
    auto source = ProfileFromIni(*ini, name, Deps());
    if (source.ok()) {
      Require(*source != nullptr, "a built source exists");
      continue;
    }
    // The same profile with its secret replaced by a marker: the marker must not come back.
    if (section.count("access_key_secret") == 0) continue;
    CredentialsIni marked = *ini;
    marked[name]["access_key_secret"] = "SECRET-MARKER-7f3a9";
    auto marked_source = ProfileFromIni(marked, name, Deps());
    Require(marked_source.ok() ||
                !absl::StrContains(marked_source.status().message(), "SECRET-MARKER-7f3a9"),
            "a profile error never quotes access_key_secret");
  }
}

}  // namespace
}  // namespace otaverify

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    otaverify::FuzzConfigJson(text);
  } else {
    otaverify::FuzzCredentialsIni(text);
  }
  return 0;
}

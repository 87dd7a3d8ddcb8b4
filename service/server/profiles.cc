#include "service/server/profiles.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "service/credentials/access_key_file_source.h"
#include "service/credentials/profile_source.h"
#include "service/credentials/source_from_environment.h"

namespace otaverify {
namespace {

// Keys each credentials kind accepts beyond the common ones.
const std::map<std::string, absl::flat_hash_set<std::string>>& KindKeys() {
  static const auto* keys = new std::map<std::string, absl::flat_hash_set<std::string>>{
      {"environment", {}},
      {"access_key_file",
       {"secret_dir", "access_key_id_file", "access_key_secret_file", "security_token_file"}},
      {"ecs_ram_role", {"role_name"}},
      {"oidc_role_arn",
       {"role_arn", "oidc_provider_arn", "oidc_token_file_path", "role_session_name", "policy",
        "duration_seconds", "sts_endpoint", "sts_region"}},
      {"profile_file", {"file", "profile"}},
  };
  return *keys;
}

absl::Status Invalid(absl::string_view profile, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("profile \"", profile, "\": ", problem));
}

std::string Setting(const ProfileConfig& profile, const std::string& key) {
  auto it = profile.settings.find(key);
  return it == profile.settings.end() ? "" : it->second;
}

}  // namespace

absl::StatusOr<std::vector<ProfileConfig>> ParseProfiles(const google::protobuf::Struct& config) {
  std::vector<ProfileConfig> profiles;
  auto it = config.fields().find("profiles");
  if (it == config.fields().end()) {
    ProfileConfig fallback;
    fallback.name = "default";
    profiles.push_back(std::move(fallback));
    return profiles;
  }
  if (!it->second.has_struct_value()) {
    return absl::InvalidArgumentError("\"profiles\" must be an object of named profiles");
  }
  // Sorted by name, so start-up order and logs are stable.
  std::map<std::string, const google::protobuf::Struct*> by_name;
  for (const auto& [name, value] : it->second.struct_value().fields()) {
    if (name.empty()) return absl::InvalidArgumentError("a profile name is empty");
    if (!value.has_struct_value()) return Invalid(name, "must be an object");
    by_name[name] = &value.struct_value();
  }
  for (const auto& [name, fields] : by_name) {
    ProfileConfig profile;
    profile.name = name;
    for (const auto& [key, value] : fields->fields()) {
      std::string text;
      if (value.has_string_value()) {
        text = value.string_value();
      } else if (value.has_number_value()) {
        // Converting a double outside long long's range (1e300) is undefined.
        const double n = value.number_value();
        if (!(n >= -9223372036854775808.0 && n < 9223372036854775808.0)) {
          return Invalid(name, absl::StrCat("\"", key, "\" is out of range"));
        }
        text = absl::StrCat(static_cast<long long>(n));
      } else {
        return Invalid(name, absl::StrCat("\"", key, "\" must be a string or a number"));
      }
      if (key == "region") {
        profile.region = text;
      } else if (key == "endpoint") {
        profile.endpoint = text;
      } else if (key == "iot_instance_id") {
        profile.iot_instance_id = text;
      } else if (key == "credentials") {
        profile.credentials = text;
      } else {
        profile.settings[key] = text;
      }
    }
    auto kind = KindKeys().find(profile.credentials);
    if (kind == KindKeys().end()) {
      return Invalid(name, absl::StrCat("unknown credentials \"", profile.credentials,
                                        "\" (environment, access_key_file, ecs_ram_role, "
                                        "oidc_role_arn, profile_file)"));
    }
    for (const auto& [key, value] : profile.settings) {
      if (!kind->second.contains(key)) {
        return Invalid(name, absl::StrCat("unknown key \"", key, "\" for credentials \"",
                                          profile.credentials, "\""));
      }
    }
    profiles.push_back(std::move(profile));
  }
  if (by_name.count("default") == 0) {
    return absl::InvalidArgumentError(
        "\"profiles\" must include \"default\" (it serves requests that name no account)");
  }
  return profiles;
}

absl::StatusOr<std::unique_ptr<CredentialsSource>> SourceForProfile(const ProfileConfig& profile,
                                                                    const SourceDeps& deps) {
  const std::string& kind = profile.credentials;
  if (kind == "environment") return SourceFromEnvironment(deps);
  if (kind == "access_key_file") {
    AccessKeyFileSource::Options options = AccessKeyFileSource::InDirectory(
        Setting(profile, "secret_dir").empty() ? kDefaultSecretDirectory
                                               : Setting(profile, "secret_dir"));
    for (auto [key, field] : {std::pair{"access_key_id_file", &options.access_key_id_file},
                              std::pair{"access_key_secret_file", &options.access_key_secret_file},
                              std::pair{"security_token_file", &options.security_token_file}}) {
      if (!Setting(profile, key).empty()) *field = Setting(profile, key);
    }
    return std::unique_ptr<CredentialsSource>(new AccessKeyFileSource(std::move(options)));
  }
  if (kind == "profile_file") {
    const std::string file = Setting(profile, "file");
    return ProfileFromFile(
        file.empty() ? CredentialsFilePath(deps.env) : file,
        Setting(profile, "profile").empty() ? profile.name : Setting(profile, "profile"), deps);
  }
  // ecs_ram_role and oidc_role_arn: the official profile-file keys, read by the same code.
  CredentialsIni ini;
  IniSection& section = ini[profile.name];
  section = IniSection(profile.settings.begin(), profile.settings.end());
  section["type"] = kind;
  return ProfileFromIni(ini, profile.name, deps);
}

}  // namespace otaverify

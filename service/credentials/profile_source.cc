#include "service/credentials/profile_source.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "service/credentials/ecs_ram_role_source.h"
#include "service/credentials/environment.h"
#include "service/credentials/oidc_role_source.h"
#include "service/credentials/ram_role_arn_source.h"
#include "service/credentials/static_source.h"

namespace otaverify {
namespace {

using SourcePtr = std::unique_ptr<CredentialsSource>;

// Reads the keys of one profile; every error names the profile and the key.
class ProfileReader {
 public:
  ProfileReader(absl::string_view name, absl::string_view type, const IniSection& section)
      : name_(name), type_(type), section_(section) {}

  absl::StatusOr<std::string> Required(absl::string_view key) const {
    std::string value = Optional(key);
    if (value.empty()) return Error(absl::StrCat("lacks key \"", key, "\""));
    return value;
  }
  std::string Optional(absl::string_view key) const {
    auto it = section_.find(std::string(key));
    return it == section_.end() ? std::string() : it->second;
  }
  absl::Status DurationSeconds(int* out) const {
    const std::string value = Optional("duration_seconds");
    if (!value.empty() && !absl::SimpleAtoi(value, out)) {
      return Error("key \"duration_seconds\" is not a number");
    }
    return absl::OkStatus();
  }
  void Sts(StsOptions* sts) const {
    if (std::string v = Optional("sts_endpoint"); !v.empty()) sts->endpoint = v;
    if (std::string v = Optional("sts_region"); !v.empty()) sts->region = v;
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("credentials profile \"", name_, "\" (type ", type_, ") ", what));
  }
  // A building error (bad session name, endpoint, ...) with the profile named.
  absl::Status Context(const absl::Status& status) const {
    return absl::Status(status.code(),
                        absl::StrCat("credentials profile \"", name_, "\": ", status.message()));
  }

 private:
  const std::string name_;
  const std::string type_;
  const IniSection& section_;
};

template <typename T>
absl::StatusOr<SourcePtr> Upcast(absl::StatusOr<std::unique_ptr<T>> built,
                                 const ProfileReader& reader) {
  if (!built.ok()) return reader.Context(built.status());
  return SourcePtr(*std::move(built));
}

absl::StatusOr<Credentials> AccessKey(const ProfileReader& reader, absl::string_view profile) {
  absl::StatusOr<std::string> id = reader.Required("access_key_id");
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> secret = reader.Required("access_key_secret");
  if (!secret.ok()) return secret.status();
  Credentials out;
  out.access_key_id = *std::move(id);
  out.access_key_secret = *std::move(secret);
  out.source = "profile";
  return out;
}

}  // namespace

absl::StatusOr<SourcePtr> ProfileFromIni(const CredentialsIni& ini, absl::string_view profile,
                                         const SourceDeps& deps) {
  auto section = ini.find(std::string(profile));
  if (section == ini.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("credentials profile \"", profile, "\" is not in the credentials file"));
  }
  auto type_it = section->second.find("type");
  const std::string type = type_it == section->second.end() ? "" : type_it->second;
  const ProfileReader reader(profile, type.empty() ? "<none>" : type, section->second);

  if (type == "access_key") {
    absl::StatusOr<Credentials> credentials = AccessKey(reader, profile);
    if (!credentials.ok()) return credentials.status();
    return SourcePtr(std::make_unique<StaticSource>(*std::move(credentials)));
  }
  if (type == "ecs_ram_role") {
    EcsRamRoleSource::Options options = EcsRamRoleSource::OptionsFromEnvironment(deps.env);
    if (std::string role = reader.Optional("role_name"); !role.empty()) options.role_name = role;
    return Upcast(EcsRamRoleSource::Create(deps.transport, std::move(options), deps.clock), reader);
  }
  if (type == "ram_role_arn") {
    absl::StatusOr<Credentials> credentials = AccessKey(reader, profile);
    if (!credentials.ok()) return credentials.status();
    RamRoleArnSource::Options options;
    options.sts = StsOptionsFromEnvironment(deps.env, deps.allow_insecure_sts_endpoint);
    reader.Sts(&options.sts);
    absl::StatusOr<std::string> role_arn = reader.Required("role_arn");
    if (!role_arn.ok()) return role_arn.status();
    options.role_arn = *std::move(role_arn);
    options.role_session_name = reader.Optional("role_session_name");
    options.policy = reader.Optional("policy");
    options.external_id = reader.Optional("external_id");
    if (absl::Status s = reader.DurationSeconds(&options.duration_seconds); !s.ok()) return s;
    return Upcast(
        RamRoleArnSource::Create(
            deps.transport, std::make_unique<StaticCredentialsProvider>(*std::move(credentials)),
            std::move(options), deps.clock),
        reader);
  }
  if (type == "oidc_role_arn") {
    OidcRoleSource::Options options;
    options.sts = StsOptionsFromEnvironment(deps.env, deps.allow_insecure_sts_endpoint);
    reader.Sts(&options.sts);
    for (auto [key, field] : {std::pair{"role_arn", &options.role_arn},
                              std::pair{"oidc_provider_arn", &options.oidc_provider_arn},
                              std::pair{"oidc_token_file_path", &options.oidc_token_file}}) {
      absl::StatusOr<std::string> value = reader.Required(key);
      if (!value.ok()) return value.status();
      *field = *std::move(value);
    }
    options.role_session_name = reader.Optional("role_session_name");
    options.policy = reader.Optional("policy");
    if (absl::Status s = reader.DurationSeconds(&options.duration_seconds); !s.ok()) return s;
    return Upcast(OidcRoleSource::Create(deps.transport, std::move(options), deps.clock), reader);
  }
  return reader.Error(type.empty() ? "lacks key \"type\""
                                   : "has an unknown type (expected access_key, ecs_ram_role, "
                                     "ram_role_arn or oidc_role_arn)");
}

absl::StatusOr<SourcePtr> ProfileFromFile(const std::string& path, absl::string_view profile,
                                          const SourceDeps& deps) {
  absl::StatusOr<std::string> text = ReadSecretFile("credentials", path);
  if (!text.ok()) return text.status();
  absl::StatusOr<CredentialsIni> ini = ParseCredentialsIni(*text);
  if (!ini.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", ini.status().message()));
  }
  absl::StatusOr<SourcePtr> source = ProfileFromIni(*ini, profile, deps);
  if (!source.ok()) {
    return absl::Status(source.status().code(),
                        absl::StrCat(path, ": ", source.status().message()));
  }
  return source;
}

std::string CredentialsFilePath(const Environment& env) {
  if (std::string path = env("ALIBABA_CLOUD_CREDENTIALS_FILE"); !path.empty()) return path;
  const std::string home = env("HOME");
  return home.empty() ? "" : absl::StrCat(home, "/.alibabacloud/credentials");
}

std::string ProfileName(const Environment& env) {
  std::string name(absl::StripAsciiWhitespace(env("ALIBABA_CLOUD_PROFILE")));
  return name.empty() ? "default" : name;
}

}  // namespace otaverify

#include "emulator/credential_settings.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "emulator/credential_settings.pb.h"
#include "emulator/response.h"
#include "google/protobuf/util/json_util.h"

namespace otaverify {
namespace emulator {

absl::string_view ImdsHardenedModeName(ImdsHardenedMode mode) {
  switch (mode) {
    case ImdsHardenedMode::kOff:
      return "off";
    case ImdsHardenedMode::kOptional:
      return "optional";
    case ImdsHardenedMode::kRequired:
      return "required";
  }
  return "unknown";
}

absl::StatusOr<ImdsHardenedMode> ParseImdsHardenedMode(absl::string_view name) {
  for (ImdsHardenedMode mode :
       {ImdsHardenedMode::kOff, ImdsHardenedMode::kOptional, ImdsHardenedMode::kRequired}) {
    if (name == ImdsHardenedModeName(mode)) return mode;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("imds_hardened_mode \"", name, "\" must be one of off, optional, required"));
}

std::string CredentialSettings::ToJson() const {
  Doc doc;
  doc.Str("imds_hardened_mode", ImdsHardenedModeName(imds_hardened_mode))
      .Str("imds_role_name", imds_role_name)
      .Int("imds_credential_lifetime_seconds", absl::ToInt64Seconds(imds_credential_lifetime))
      .Int("imds_rotation_lead_seconds", absl::ToInt64Seconds(imds_rotation_lead))
      .Int("sts_duration_seconds", absl::ToInt64Seconds(sts_duration_override))
      .Int("sts_min_duration_seconds", absl::ToInt64Seconds(sts_min_duration))
      .Int("sts_max_duration_seconds", absl::ToInt64Seconds(sts_max_duration))
      .Str("oidc_token", oidc_token)
      .Str("role_arn", role_arn)
      .Str("oidc_provider_arn", oidc_provider_arn);
  return doc.ToJson();
}

absl::Status ValidateCredentialSettings(const CredentialSettings& s) {
  if (s.imds_role_name.empty() || s.imds_role_name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("imds_role_name must be non-empty and contain no '/'");
  }
  if (s.imds_credential_lifetime < absl::Seconds(1)) {
    return absl::InvalidArgumentError("imds_credential_lifetime_seconds must be at least 1");
  }
  if (s.imds_rotation_lead < absl::ZeroDuration() ||
      s.imds_rotation_lead > s.imds_credential_lifetime) {
    return absl::InvalidArgumentError(
        "imds_rotation_lead_seconds must be in [0, imds_credential_lifetime_seconds]");
  }
  if (s.sts_min_duration < absl::Seconds(1)) {
    return absl::InvalidArgumentError("sts_min_duration_seconds must be at least 1");
  }
  if (s.sts_max_duration < s.sts_min_duration) {
    return absl::InvalidArgumentError(
        "sts_max_duration_seconds must be at least sts_min_duration_seconds");
  }
  if (s.sts_duration_override < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("sts_duration_seconds must be 0 (off) or positive");
  }
  if (s.oidc_token.empty() || s.role_arn.empty() || s.oidc_provider_arn.empty()) {
    return absl::InvalidArgumentError("oidc_token, role_arn and oidc_provider_arn must be set");
  }
  return absl::OkStatus();
}

absl::StatusOr<CredentialSettings> ApplyCredentialSettingsUpdate(absl::string_view json,
                                                                 CredentialSettings base) {
  CredentialSettingsUpdate update;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a typo in a test must not be silently ignored
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &update, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("credentials: ", status.ToString()));
  }
  if (update.has_imds_hardened_mode()) {
    absl::StatusOr<ImdsHardenedMode> mode = ParseImdsHardenedMode(update.imds_hardened_mode());
    if (!mode.ok()) return mode.status();
    base.imds_hardened_mode = *mode;
  }
  if (update.has_imds_role_name()) base.imds_role_name = update.imds_role_name();
  if (update.has_imds_credential_lifetime_seconds()) {
    base.imds_credential_lifetime = absl::Seconds(update.imds_credential_lifetime_seconds());
  }
  if (update.has_imds_rotation_lead_seconds()) {
    base.imds_rotation_lead = absl::Seconds(update.imds_rotation_lead_seconds());
  }
  if (update.has_sts_duration_seconds()) {
    base.sts_duration_override = absl::Seconds(update.sts_duration_seconds());
  }
  if (update.has_sts_min_duration_seconds()) {
    base.sts_min_duration = absl::Seconds(update.sts_min_duration_seconds());
  }
  if (update.has_sts_max_duration_seconds()) {
    base.sts_max_duration = absl::Seconds(update.sts_max_duration_seconds());
  }
  if (update.has_oidc_token()) base.oidc_token = update.oidc_token();
  if (update.has_role_arn()) base.role_arn = update.role_arn();
  if (update.has_oidc_provider_arn()) base.oidc_provider_arn = update.oidc_provider_arn();
  if (absl::Status valid = ValidateCredentialSettings(base); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("credentials: ", valid.message()));
  }
  return base;
}

CredentialSettings CredentialSettingsStore::Get() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<CredentialSettings> CredentialSettingsStore::Update(absl::string_view json) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<CredentialSettings> updated = ApplyCredentialSettingsUpdate(json, current_);
  if (updated.ok()) current_ = *updated;
  return updated;
}

void CredentialSettingsStore::Reset() {
  absl::MutexLock lock(&mu_);
  current_ = defaults_;
}

}  // namespace emulator
}  // namespace otaverify

// CredentialSettings: how the emulated ECS metadata service (IMDS) and STS behave — hardened
// mode, the instance's role, credential lifetimes, the accepted OIDC token and ARNs — set from
// flags at start and changed by tests through POST /_emulator/credentials (README.md).
//
// CredentialSettings is a value type; CredentialSettingsStore holds the current settings and
// the start-up ones that POST /_emulator/reset restores. The store is thread-safe.
#ifndef OTAVERIFY_EMULATOR_CREDENTIAL_SETTINGS_H_
#define OTAVERIFY_EMULATOR_CREDENTIAL_SETTINGS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otaverify {
namespace emulator {

// The version STS speaks (credentials.md §3).
inline constexpr char kStsApiVersion[] = "2015-04-01";

// IMDS hardened mode (credentials.md §2): kOff ignores tokens; kOptional checks a token that
// is sent; kRequired rejects GETs without a valid token (401).
enum class ImdsHardenedMode { kOff, kOptional, kRequired };

absl::string_view ImdsHardenedModeName(ImdsHardenedMode mode);
// "off", "optional", "required"; INVALID_ARGUMENT otherwise.
absl::StatusOr<ImdsHardenedMode> ParseImdsHardenedMode(absl::string_view name);

struct CredentialSettings {
  ImdsHardenedMode imds_hardened_mode = ImdsHardenedMode::kOptional;
  std::string imds_role_name = "EmulatorEcsRole";
  // IMDS credentials live this long; the same ones are served until `imds_rotation_lead`
  // before they expire, then new ones are issued.
  absl::Duration imds_credential_lifetime = absl::Hours(6);
  absl::Duration imds_rotation_lead = absl::Hours(1);
  // Zero: issued STS credentials live DurationSeconds (default 3600, clamped into
  // [min, max]); otherwise exactly this long, whatever was asked.
  absl::Duration sts_duration_override = absl::ZeroDuration();
  // The accepted DurationSeconds range; the real service's is 900..3600 (the role's maximum).
  absl::Duration sts_min_duration = absl::Seconds(900);
  absl::Duration sts_max_duration = absl::Seconds(3600);
  std::string oidc_token = "emulator-oidc-token";
  std::string role_arn = "acs:ram::1234567890123456:role/emulator-role";
  std::string oidc_provider_arn = "acs:ram::1234567890123456:oidc-provider/emulator-oidc-provider";

  // The shape GET /_emulator/credentials answers; durations in whole seconds.
  std::string ToJson() const;
};

// INVALID_ARGUMENT naming the first problem: an empty or '/'-containing role name, lifetime
// < 1 s, lead outside [0, lifetime], min < 1 s, max < min, override < 0, empty token or ARN.
absl::Status ValidateCredentialSettings(const CredentialSettings& settings);

// `base` with the fields present in a POST /_emulator/credentials body applied, validated.
// INVALID_ARGUMENT for malformed JSON, unknown fields or invalid results.
absl::StatusOr<CredentialSettings> ApplyCredentialSettingsUpdate(absl::string_view json,
                                                                 CredentialSettings base);

class CredentialSettingsStore {
 public:
  // REQUIRES: ValidateCredentialSettings(defaults).ok().
  explicit CredentialSettingsStore(CredentialSettings defaults)
      : defaults_(defaults), current_(std::move(defaults)) {}

  CredentialSettings Get() const;
  // Applies a POST body; the settings are unchanged on error.
  absl::StatusOr<CredentialSettings> Update(absl::string_view json);
  // Back to the start-up settings.
  void Reset();

 private:
  const CredentialSettings defaults_;
  mutable absl::Mutex mu_;
  CredentialSettings current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_CREDENTIAL_SETTINGS_H_

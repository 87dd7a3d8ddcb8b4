// Upstream quotas: the IoT API's per-account, per-action flow control (protocol.md §1: "per
// Alibaba Cloud account, shared by its RAM users"). The emulator has one account — every key
// it accepts, configured or issued by its STS, belongs to it — so there is one token bucket per
// action. A request over quota gets the gateway-layer 400 Throttling.User and is not processed.
//
// QuotaSettings is a value type (on/off plus a rate per action); QuotaLimiter holds the
// start-up settings (what POST /_emulator/reset restores), the current ones and the buckets.
// Off by default, so tests and benchmarks that predate quotas see no throttling.
//
// Buckets: capacity (burst) = the per-second rate, refilled continuously at the rate, full
// when first used and whenever enforcement is turned on or the action's rate changes. Exact
// integer arithmetic on the caller's clock, so a ManualClock drives them deterministically.
// Note what that admits: any window of T seconds sees at most burst + rate·T requests — up
// to 2·rate within one calendar second (a full bucket at its start plus a second's refill).
//
// QuotaLimiter is thread-safe.
#ifndef OTAVERIFY_EMULATOR_QUOTA_H_
#define OTAVERIFY_EMULATOR_QUOTA_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otaverify {
namespace emulator {

// Largest accepted rate; far above anything the service grants, and small enough for the
// bucket's integer arithmetic.
inline constexpr int64_t kMaxQuotaRate = 1000000;

// The actions with a documented quota and their rates (protocol.md §1): CreateOTAVerifyJob 10,
// QueryOTAFirmware 20, QueryOTAJob / ListOTAJobByFirmware / ListOTATaskByJob 10,
// CancelOTATaskByJob 5 per second.
const std::map<std::string, int64_t>& DefaultQuotaRates();

// True for the actions of DefaultQuotaRates().
bool IsQuotaAction(absl::string_view action);

struct QuotaSettings {
  bool enabled = false;
  // Every action of DefaultQuotaRates(), requests per second; 0 throttles every request.
  std::map<std::string, int64_t> rates = DefaultQuotaRates();

  // {"enabled":false,"rates":{"CancelOTATaskByJob":5,...}} — GET /_emulator/quota's answer.
  std::string ToJson() const;
};

// INVALID_ARGUMENT for an action without a quota or a rate outside [0, kMaxQuotaRate].
absl::Status ValidateQuotaSettings(const QuotaSettings& settings);

// Applies the --quotas flag, "CreateOTAVerifyJob:10,QueryOTAFirmware:20" (empty: nothing), to
// `settings`; the actions not named keep their rates. INVALID_ARGUMENT for a malformed entry,
// an action given twice, or a result ValidateQuotaSettings rejects.
absl::Status ApplyQuotaRatesFlag(absl::string_view spec, QuotaSettings* settings);

// `base` with a POST /_emulator/quota body applied and validated. INVALID_ARGUMENT for
// malformed JSON, unknown fields, or an invalid result.
absl::StatusOr<QuotaSettings> ApplyQuotaUpdate(absl::string_view json, QuotaSettings base);

enum class QuotaDecision {
  kNotLimited,  // enforcement off, or the action has no quota
  kAdmitted,    // took a token
  kThrottled,   // over quota: answer Throttling.User, do not process
};

class QuotaLimiter {
 public:
  // REQUIRES: ValidateQuotaSettings(defaults).ok().
  explicit QuotaLimiter(QuotaSettings defaults)
      : defaults_(defaults), current_(std::move(defaults)) {}

  QuotaLimiter(const QuotaLimiter&) = delete;
  QuotaLimiter& operator=(const QuotaLimiter&) = delete;

  // One request for `action` at `now`.
  QuotaDecision Admit(absl::string_view action, absl::Time now);

  QuotaSettings Get() const;
  bool enabled() const;
  // Applies a POST /_emulator/quota body; nothing changes on error. Buckets of actions whose
  // rate changed, and all of them when enforcement is turned on, start full again.
  absl::StatusOr<QuotaSettings> Update(absl::string_view json);
  // Back to the start-up settings, every bucket full.
  void Reset();

 private:
  struct Bucket {
    int64_t units = 0;  // tokens × kUnitsPerToken
    absl::Time last_refill;
  };
  // A token is this many units; a bucket gains `rate` units per nanosecond, so integer
  // arithmetic is exact at nanosecond resolution.
  static constexpr int64_t kUnitsPerToken = 1000000000;

  const QuotaSettings defaults_;
  mutable absl::Mutex mu_;
  QuotaSettings current_ ABSL_GUARDED_BY(mu_);
  // Created full on an action's first request.
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_QUOTA_H_

#include "emulator/quota.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "emulator/quota.pb.h"
#include "emulator/response.h"
#include "google/protobuf/util/json_util.h"

namespace otaverify {
namespace emulator {

const std::map<std::string, int64_t>& DefaultQuotaRates() {
  static const auto* const rates = new std::map<std::string, int64_t>{
      {"CreateOTAVerifyJob", 10},   {"QueryOTAFirmware", 20}, {"QueryOTAJob", 10},
      {"ListOTAJobByFirmware", 10}, {"ListOTATaskByJob", 10}, {"CancelOTATaskByJob", 5},
  };
  return *rates;
}

bool IsQuotaAction(absl::string_view action) {
  return DefaultQuotaRates().count(std::string(action)) != 0;
}

std::string QuotaSettings::ToJson() const {
  Doc rate_doc;
  for (const auto& [action, rate] : rates) rate_doc.Int(action, rate);
  Doc doc;
  doc.Bool("enabled", enabled).Obj("rates", std::move(rate_doc));
  return doc.ToJson();
}

absl::Status ValidateQuotaSettings(const QuotaSettings& settings) {
  for (const auto& [action, rate] : settings.rates) {
    if (!IsQuotaAction(action)) {
      return absl::InvalidArgumentError(
          absl::StrCat("quota: \"", action, "\" is not an action with a quota"));
    }
    if (rate < 0 || rate > kMaxQuotaRate) {
      return absl::InvalidArgumentError(
          absl::StrCat("quota: the rate of ", action, " must be in [0, ", kMaxQuotaRate, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyQuotaRatesFlag(absl::string_view spec, QuotaSettings* settings) {
  QuotaSettings updated = *settings;
  std::set<std::string> seen;
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    const size_t colon = entry.find(':');
    int64_t rate = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(entry.substr(colon + 1), &rate)) {
      return absl::InvalidArgumentError(
          absl::StrCat("quotas: \"", entry, "\" is not <Action>:<requests per second>"));
    }
    std::string action(absl::StripAsciiWhitespace(entry.substr(0, colon)));
    if (!seen.insert(action).second) {
      return absl::InvalidArgumentError(absl::StrCat("quotas: ", action, " given twice"));
    }
    updated.rates[action] = rate;
  }
  if (absl::Status valid = ValidateQuotaSettings(updated); !valid.ok()) return valid;
  *settings = std::move(updated);
  return absl::OkStatus();
}

absl::StatusOr<QuotaSettings> ApplyQuotaUpdate(absl::string_view json, QuotaSettings base) {
  QuotaUpdate update;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a typo in a test must not be silently ignored
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &update, options);
  if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat("quota: ", status.ToString()));
  if (update.has_enabled()) base.enabled = update.enabled();
  for (const auto& [action, rate] : update.rates()) base.rates[action] = rate;
  if (absl::Status valid = ValidateQuotaSettings(base); !valid.ok()) return valid;
  return base;
}

QuotaDecision QuotaLimiter::Admit(absl::string_view action, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (!current_.enabled) return QuotaDecision::kNotLimited;
  const std::string key(action);
  auto rate_it = current_.rates.find(key);
  if (rate_it == current_.rates.end()) return QuotaDecision::kNotLimited;
  const int64_t rate = rate_it->second;
  const int64_t capacity = rate * kUnitsPerToken;  // burst = rate
  auto it = buckets_.find(key);
  if (it == buckets_.end()) it = buckets_.emplace(key, Bucket{capacity, now}).first;
  Bucket& bucket = it->second;
  if (now > bucket.last_refill) {
    // A second refills any bucket (capacity / rate = 1 s); clamping keeps the product small.
    const int64_t elapsed_ns =
        std::min<int64_t>(absl::ToInt64Nanoseconds(now - bucket.last_refill), kUnitsPerToken);
    bucket.units = std::min(capacity, bucket.units + elapsed_ns * rate);
    bucket.last_refill = now;
  }
  // A clock that went back (ManualClock::Set) refills nothing until it passes last_refill.
  if (bucket.units < kUnitsPerToken) return QuotaDecision::kThrottled;
  bucket.units -= kUnitsPerToken;
  return QuotaDecision::kAdmitted;
}

QuotaSettings QuotaLimiter::Get() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

bool QuotaLimiter::enabled() const {
  absl::MutexLock lock(&mu_);
  return current_.enabled;
}

absl::StatusOr<QuotaSettings> QuotaLimiter::Update(absl::string_view json) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<QuotaSettings> updated = ApplyQuotaUpdate(json, current_);
  if (!updated.ok()) return updated;
  if (updated->enabled && !current_.enabled) {
    buckets_.clear();
  } else {
    for (const auto& [action, rate] : updated->rates) {
      if (current_.rates[action] != rate) buckets_.erase(action);
    }
  }
  current_ = *updated;
  return updated;
}

void QuotaLimiter::Reset() {
  absl::MutexLock lock(&mu_);
  current_ = defaults_;
  buckets_.clear();
}

}  // namespace emulator
}  // namespace otaverify

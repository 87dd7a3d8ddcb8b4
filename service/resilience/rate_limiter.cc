#include "service/resilience/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace otaverify {
namespace {

constexpr double kDefaultRecoveryFraction = 0.05;

bool Positive(double x) { return std::isfinite(x) && x > 0; }

// Tokens earned over `dt` seconds by a rate starting at r0 and growing by k per second up to
// max_rate: the area under that ramp.
double Accrued(double r0, double k, double max_rate, double dt) {
  if (k <= 0 || r0 >= max_rate) return r0 * dt;
  const double t1 = (max_rate - r0) / k;  // when the ramp reaches max_rate
  if (dt <= t1) return r0 * dt + 0.5 * k * dt * dt;
  return r0 * t1 + 0.5 * k * t1 * t1 + max_rate * (dt - t1);
}

// Seconds until Accrued(r0, k, max_rate, t) == need: the inverse of Accrued.
double TimeToAccrue(double r0, double k, double max_rate, double need) {
  if (need <= 0) return 0;
  if (k <= 0 || r0 >= max_rate) return need / r0;
  const double t1 = (max_rate - r0) / k;
  const double on_ramp = r0 * t1 + 0.5 * k * t1 * t1;
  if (need <= on_ramp) {
    // Root of k/2 t^2 + r0 t - need = 0, in the form that does not cancel when k is small.
    return 2 * need / (r0 + std::sqrt(r0 * r0 + 2 * k * need));
  }
  return t1 + (need - on_ramp) / max_rate;
}

}  // namespace

absl::Status RateLimiter::Validate(const Options& options) {
  if (!Positive(options.rate_per_second)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate_per_second must be > 0, got ", options.rate_per_second));
  }
  if (!std::isfinite(options.burst) || options.burst < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("burst must be >= 0 (0: equal to the rate), got ", options.burst));
  }
  if (!Positive(options.decrease_factor) || options.decrease_factor >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("decrease_factor must be in (0, 1), got ", options.decrease_factor));
  }
  if (!Positive(options.min_rate_fraction) || options.min_rate_fraction > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_rate_fraction must be in (0, 1], got ", options.min_rate_fraction));
  }
  if (options.decrease_cooldown < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "decrease_cooldown must be >= 0, got ", absl::FormatDuration(options.decrease_cooldown)));
  }
  if (!std::isfinite(options.recovery_per_second)) {
    return absl::InvalidArgumentError("recovery_per_second must be finite");
  }
  return absl::OkStatus();
}

// Out-of-range options are clamped so that a limiter built without Validate still behaves.
RateLimiter::RateLimiter(const Options& options, absl::Time now)
    : max_rate_(Positive(options.rate_per_second) ? options.rate_per_second : 1),
      min_rate_(max_rate_ * (Positive(options.min_rate_fraction)
                                 ? std::min(options.min_rate_fraction, 1.0)
                                 : 0.1)),
      burst_(std::max(1.0, Positive(options.burst) ? options.burst : max_rate_)),
      decrease_factor_(Positive(options.decrease_factor) && options.decrease_factor < 1
                           ? options.decrease_factor
                           : 0.5),
      decrease_cooldown_(std::max(options.decrease_cooldown, absl::ZeroDuration())),
      recovery_per_second_(std::isfinite(options.recovery_per_second) &&
                                   options.recovery_per_second >= 0
                               ? options.recovery_per_second
                               : kDefaultRecoveryFraction * max_rate_),
      tokens_(burst_),
      rate_(max_rate_),
      last_(now) {}

double RateLimiter::CapacityAt(double rate) const {
  return std::max(1.0, burst_ * rate / max_rate_);
}

double RateLimiter::RateAfterLocked(double elapsed) const {
  return std::min(max_rate_, rate_ + recovery_per_second_ * elapsed);
}

void RateLimiter::AdvanceLocked(absl::Time now) {
  if (now <= last_) return;
  const double dt = absl::ToDoubleSeconds(now - last_);
  const double accrued = Accrued(rate_, recovery_per_second_, max_rate_, dt);
  rate_ = RateAfterLocked(dt);
  tokens_ = std::min(CapacityAt(rate_), tokens_ + accrued);
  last_ = now;
}

absl::optional<absl::Time> RateLimiter::Reserve(absl::Time now, absl::Time latest_start) {
  absl::MutexLock lock(&mu_);
  AdvanceLocked(now);
  const double after = tokens_ - 1;
  const double wait = TimeToAccrue(rate_, recovery_per_second_, max_rate_, -after);
  // Rounded up so that no call starts before its token has been earned.
  const absl::Time start = last_ + absl::Ceil(absl::Seconds(wait), absl::Nanoseconds(1));
  if (start > latest_start) return absl::nullopt;
  tokens_ = after;
  return start;
}

bool RateLimiter::OnThrottled(absl::Time now) {
  absl::MutexLock lock(&mu_);
  AdvanceLocked(now);
  if (last_ - last_decrease_ < decrease_cooldown_) return false;
  last_decrease_ = last_;
  rate_ = std::max(min_rate_, rate_ * decrease_factor_);
  tokens_ = std::min(tokens_, CapacityAt(rate_));
  return true;
}

double RateLimiter::CurrentRate(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  return RateAfterLocked(std::max(0.0, absl::ToDoubleSeconds(now - last_)));
}

}  // namespace otaverify

// RateLimiter: paces calls to one upstream (account, action) quota with a token bucket that
// hands out reservations instead of queueing, so no thread ever blocks on it (architecture.md,
// "Admission before retries"). A caller asks for a start time; it either gets one no later than
// the latest start its deadline allows, or nothing at all and fails fast with
// RESOURCE_EXHAUSTED. Waiting callers hold no token: they are "in debt" (like
// golang.org/x/time/rate's Reserve), so later callers queue behind them in time, not on a lock.
//
// The rate adapts to the upstream's own verdict (AIMD): each Throttling answer
// (protocol.md §8) multiplies the current rate by a factor, at most once per cooldown so that a
// burst of throttled answers to calls sent together counts once; the rate then grows back
// linearly to the configured rate. The bucket's capacity shrinks and grows with the rate, so an
// idle spell right after throttling does not release a full configured burst.
//
// The configured rate is this replica's share of the account's quota (protocol.md §1, e.g.
// CreateOTAVerifyJob 10 QPS per account): the caller divides the account quota by the replica
// count before constructing one. The quota is shared by every RAM user of the account, so AIMD is
// what absorbs other clients of the same account.
//
// Pure: time is a parameter, never read. Thread-safe. Times passed to one limiter should not go
// backwards; if they do, the limiter behaves as if the latest time seen were still current.
#ifndef OTAVERIFY_SERVICE_RESILIENCE_RATE_LIMITER_H_
#define OTAVERIFY_SERVICE_RESILIENCE_RATE_LIMITER_H_

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace otaverify {

class RateLimiter {
 public:
  struct Options {
    // Calls per second this replica may start: the account quota divided by the replica count.
    double rate_per_second = 10;
    // Calls that may start at once after an idle spell. 0 means "equal to the rate"; never
    // below 1, or no call could ever start.
    double burst = 0;
    // Throttled: current rate *= decrease_factor, in (0, 1).
    double decrease_factor = 0.5;
    // ... but never below this fraction of rate_per_second, in (0, 1], so the limiter keeps
    // probing the quota instead of starving.
    double min_rate_fraction = 0.1;
    // Throttled answers within this long of the last decrease count as the same event: calls
    // already in flight when the first one came back were sent at the old rate.
    absl::Duration decrease_cooldown = absl::Seconds(1);
    // Additive increase, in calls/s gained per second. Negative means 5 % of rate_per_second.
    double recovery_per_second = -1;
  };

  // OK, or INVALID_ARGUMENT naming the first bad field. Start-up code checks configuration
  // with this; the constructor clamps rather than fail.
  static absl::Status Validate(const Options& options);

  // `now` is the time the bucket starts full.
  RateLimiter(const Options& options, absl::Time now);

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Reserves one call. Returns the time the caller may send it: `now` when a token is free,
  // later when it must wait behind earlier reservations. Returns nullopt, and reserves nothing,
  // when that time would be after `latest_start` (typically: deadline - the time one attempt
  // needs); the caller then fails fast with RESOURCE_EXHAUSTED. A reservation is never returned:
  // a caller that gives up after reserving has still used its slot.
  absl::optional<absl::Time> Reserve(absl::Time now, absl::Time latest_start);

  // The upstream answered Throttling: decrease the rate (see the header comment). Returns true
  // if this answer counted as a new throttling event (the rate decreased, or was already at its
  // floor), false if it fell within the cooldown of the last one; for metrics and logs.
  bool OnThrottled(absl::Time now);

  // The rate in force at `now`, in calls per second; for metrics and tests.
  double CurrentRate(absl::Time now) const;

 private:
  // Brings tokens_ and rate_ forward to `now`.
  void AdvanceLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tokens the bucket may hold at the given rate.
  double CapacityAt(double rate) const;
  // The rate `elapsed` seconds after the last update, recovery included.
  double RateAfterLocked(double elapsed) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const double max_rate_;
  const double min_rate_;
  const double burst_;
  const double decrease_factor_;
  const absl::Duration decrease_cooldown_;
  const double recovery_per_second_;

  mutable absl::Mutex mu_;
  // Free tokens at last_; negative when reservations are waiting (debt).
  double tokens_ ABSL_GUARDED_BY(mu_);
  // The rate at last_; recovers linearly from there.
  double rate_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
  absl::Time last_decrease_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_RESILIENCE_RATE_LIMITER_H_

// CircuitBreaker: stops sending calls to one upstream endpoint that keeps failing, so callers
// get an immediate UNAVAILABLE with RetryInfo instead of each waiting out its own timeout, and a
// struggling upstream gets room to recover (architecture.md, "Admission before retries").
//
//   closed ──failure_threshold consecutive failures──▶ open ──open_duration──▶ half-open
//   half-open: one probe at a time; its success ──▶ closed, its failure ──▶ open again, for
//   twice the previous open duration, up to max_open_duration.
//
// What counts is the caller's decision, and it must report upstream *health* only:
// - OnFailure: the upstream could not serve — transport failures (connect, TLS, reset, attempt
//   timeout), HTTP 5xx, ServiceUnavailable / InternalError, iot.system.SystemException
//   (protocol.md §8).
// - OnSuccess: the upstream answered as a healthy service would, including business errors
//   (Success:false with an iot.* code), the caller's errors (InvalidParameter*) and the gateway's
//   own (signature, credentials). Reporting those as failures would let one bad caller or one
//   bad key take the endpoint away from everyone.
// - OnAbandoned: an admitted call that says nothing about health — cancelled or out of deadline
//   before an attempt finished, or Throttling (quota, which RateLimiter handles; the upstream is
//   up). It frees the half-open probe slot.
// A call admitted by Allow must end in exactly one of the three. A probe never reported is
// presumed lost after probe_timeout and another is admitted, so a lost report cannot wedge the
// breaker half-open.
//
// Reports are not tied to the call that was admitted: a call admitted while closed that reports
// while open is ignored (its verdict predates the open period); one that reports while half-open
// is taken as the probe's verdict. With attempt timeouts above open_duration that can happen;
// it only shifts the breaker by one decision.
//
// Pure: time is a parameter. Thread-safe. One per upstream endpoint.
#ifndef OTAVERIFY_SERVICE_RESILIENCE_CIRCUIT_BREAKER_H_
#define OTAVERIFY_SERVICE_RESILIENCE_CIRCUIT_BREAKER_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otaverify {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  struct Options {
    // Consecutive failures in closed state that open the breaker; at least 1.
    int failure_threshold = 5;
    // How long the first opening lasts.
    absl::Duration open_duration = absl::Seconds(5);
    // Each failed probe doubles the open duration up to this; equal to open_duration for a
    // fixed open duration.
    absl::Duration max_open_duration = absl::Seconds(60);
    // A probe not reported within this long is presumed lost. Longer than any attempt can take.
    absl::Duration probe_timeout = absl::Seconds(30);
  };

  explicit CircuitBreaker(const Options& options);
  CircuitBreaker() : CircuitBreaker(Options()) {}

  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // True if a call may be sent now. In half-open state, true admits the caller as the probe.
  bool Allow(absl::Time now);

  // When Allow is false: how long until it is worth asking again, for RetryInfo. While open, the
  // rest of the open period. While a probe is out, open_duration (a failing probe re-opens the
  // breaker for at least that long, so a caller coming back then sees a fresh verdict), but no
  // later than the probe's timeout. Zero when Allow would admit a call.
  absl::Duration RetryAfter(absl::Time now) const;

  void OnSuccess();
  void OnFailure(absl::Time now);
  void OnAbandoned();

  // For metrics. An open breaker whose open period has run out reports kHalfOpen.
  State state(absl::Time now) const;

 private:
  void OpenLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ProbeOutLocked(absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const int failure_threshold_;
  const absl::Duration base_open_duration_;
  const absl::Duration max_open_duration_;
  const absl::Duration probe_timeout_;

  mutable absl::Mutex mu_;
  // kOpen is stored until the first Allow after open_until_; state() hides the difference.
  State state_ ABSL_GUARDED_BY(mu_) = State::kClosed;
  int consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration open_duration_ ABSL_GUARDED_BY(mu_);
  absl::Time open_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool probe_out_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time probe_started_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_RESILIENCE_CIRCUIT_BREAKER_H_

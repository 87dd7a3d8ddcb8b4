#include "service/resilience/circuit_breaker.h"

#include <algorithm>

namespace otaverify {

CircuitBreaker::CircuitBreaker(const Options& options)
    : failure_threshold_(std::max(1, options.failure_threshold)),
      base_open_duration_(std::max(options.open_duration, absl::ZeroDuration())),
      max_open_duration_(std::max(options.max_open_duration, base_open_duration_)),
      probe_timeout_(std::max(options.probe_timeout, absl::ZeroDuration())),
      open_duration_(base_open_duration_) {}

bool CircuitBreaker::ProbeOutLocked(absl::Time now) const {
  return probe_out_ && now - probe_started_ < probe_timeout_;
}

void CircuitBreaker::OpenLocked(absl::Time now) {
  state_ = State::kOpen;
  open_until_ = now + open_duration_;
  consecutive_failures_ = 0;
  probe_out_ = false;
}

bool CircuitBreaker::Allow(absl::Time now) {
  absl::MutexLock lock(&mu_);
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (now < open_until_) return false;
      state_ = State::kHalfOpen;
      probe_out_ = false;
      break;
    case State::kHalfOpen:
      if (ProbeOutLocked(now)) return false;
      break;
  }
  probe_out_ = true;
  probe_started_ = now;
  return true;
}

absl::Duration CircuitBreaker::RetryAfter(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  switch (state_) {
    case State::kClosed:
      return absl::ZeroDuration();
    case State::kOpen:
      return std::max(open_until_ - now, absl::ZeroDuration());
    case State::kHalfOpen:
      if (!ProbeOutLocked(now)) return absl::ZeroDuration();
      return std::min(base_open_duration_, probe_started_ + probe_timeout_ - now);
  }
  return absl::ZeroDuration();
}

void CircuitBreaker::OnSuccess() {
  absl::MutexLock lock(&mu_);
  switch (state_) {
    case State::kClosed:
      consecutive_failures_ = 0;
      break;
    case State::kOpen:
      break;  // admitted before the breaker opened: stale
    case State::kHalfOpen:
      state_ = State::kClosed;
      consecutive_failures_ = 0;
      open_duration_ = base_open_duration_;
      probe_out_ = false;
      break;
  }
}

void CircuitBreaker::OnFailure(absl::Time now) {
  absl::MutexLock lock(&mu_);
  switch (state_) {
    case State::kClosed:
      if (++consecutive_failures_ >= failure_threshold_) OpenLocked(now);
      break;
    case State::kOpen:
      break;  // admitted before the breaker opened: stale
    case State::kHalfOpen:
      // Doubling by comparison first, so a huge max cannot overflow the duration.
      open_duration_ =
          open_duration_ > max_open_duration_ / 2 ? max_open_duration_ : open_duration_ * 2;
      OpenLocked(now);
      break;
  }
}

void CircuitBreaker::OnAbandoned() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kHalfOpen) probe_out_ = false;
}

CircuitBreaker::State CircuitBreaker::state(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kOpen && now >= open_until_) return State::kHalfOpen;
  return state_;
}

}  // namespace otaverify

#include "service/credentials/credentials_cache.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "service/common/log.h"

namespace otaverify {
namespace {

bool SameTriple(const Credentials& a, const Credentials& b) {
  return a.access_key_id == b.access_key_id && a.access_key_secret == b.access_key_secret &&
         a.security_token == b.security_token;
}

std::string FormatUtc(absl::Time t) {
  if (t == absl::InfiniteFuture()) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Uniform in [lo, hi).
absl::Duration RandomDuration(absl::BitGen& random, absl::Duration lo, absl::Duration hi) {
  if (hi <= lo) return lo;
  return lo + absl::Nanoseconds(
                  absl::Uniform<int64_t>(random, 0, absl::ToInt64Nanoseconds(hi - lo)));
}

}  // namespace

uint64_t CredentialsCache::Stats::Total() const {
  uint64_t total = 0;
  for (const auto& by_result : fetches) {
    for (uint64_t n : by_result) total += n;
  }
  return total;
}

const char* CredentialsCache::ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kCold:
      return "cold";
    case Reason::kAdvisory:
      return "advisory";
    case Reason::kMandatory:
      return "mandatory";
    case Reason::kInvalidated:
      return "invalidated";
    case Reason::kRecheck:
      return "recheck";
  }
  return "";
}

const char* CredentialsCache::ResultName(Result result) {
  switch (result) {
    case Result::kNew:
      return "new";
    case Result::kSame:
      return "same";
    case Result::kFailed:
      return "failed";
  }
  return "";
}

CredentialsCache::CredentialsCache(std::string profile, std::unique_ptr<CredentialsSource> source,
                                   const Clock* clock, Options options)
    : profile_(std::move(profile)),
      source_(std::move(source)),
      clock_(clock),
      options_(options) {}

void CredentialsCache::Get(absl::Time now, Callback done) {
  absl::StatusOr<CredentialsSnapshot> answer;
  bool answered = true;
  absl::optional<Reason> fetch;
  {
    absl::MutexLock lock(&mu_);
    if (held_.snapshot != nullptr && now < held_.mandatory_at) {
      answer = held_.snapshot;
      const Reason reason = held_.snapshot->expiration == absl::InfiniteFuture()
                                ? Reason::kRecheck
                                : Reason::kAdvisory;
      if (now >= held_.refresh_at && MaybeStartFetchLocked(now, reason)) fetch = reason;
    } else {
      const Reason reason = held_.snapshot != nullptr ? Reason::kMandatory
                            : invalidated_             ? Reason::kInvalidated
                                                       : Reason::kCold;
      const bool started = MaybeStartFetchLocked(now, reason);
      if (started) fetch = reason;
      if (fetching_) {
        waiters_.push_back(std::move(done));
        stats_.waiters = waiters_.size();
        answered = false;
      } else {
        answer = LastGoodLocked(now);  // in backoff after failures
      }
    }
  }
  if (fetch.has_value()) Fetch(now, *fetch);
  if (answered) std::move(done)(std::move(answer));
}

void CredentialsCache::Invalidate(const Credentials& rejected) {
  absl::MutexLock lock(&mu_);
  if (held_.snapshot == nullptr || !SameTriple(*held_.snapshot, rejected)) return;
  held_ = Held();
  invalidated_ = true;
  next_attempt_at_ = absl::InfinitePast();  // fetch at once, whatever the backoff
}

void CredentialsCache::Tick(absl::Time now) {
  absl::optional<Reason> fetch;
  {
    absl::MutexLock lock(&mu_);
    if (fetching_) return;
    Reason reason;
    if (held_.snapshot == nullptr) {
      reason = invalidated_ ? Reason::kInvalidated : Reason::kCold;
    } else if (now >= held_.mandatory_at) {
      reason = Reason::kMandatory;
    } else if (now >= held_.refresh_at) {
      reason = held_.snapshot->expiration == absl::InfiniteFuture() ? Reason::kRecheck
                                                                    : Reason::kAdvisory;
    } else {
      return;
    }
    if (MaybeStartFetchLocked(now, reason)) fetch = reason;
  }
  if (fetch.has_value()) Fetch(now, *fetch);
}

CredentialsCache::Stats CredentialsCache::GetStats() const {
  absl::MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.consecutive_failures = consecutive_failures_;
  stats.expiration =
      held_.snapshot != nullptr ? held_.snapshot->expiration : absl::InfinitePast();
  return stats;
}

bool CredentialsCache::MaybeStartFetchLocked(absl::Time now, Reason reason) {
  if (fetching_ || now < next_attempt_at_) return false;
  fetching_ = true;
  return true;
}

void CredentialsCache::Fetch(absl::Time now, Reason reason) {
  source_->Fetch(now, [this, now, reason](absl::StatusOr<Credentials> fetched) {
    OnFetched(now, reason, std::move(fetched));
  });
}

void CredentialsCache::OnFetched(absl::Time started, Reason reason,
                                 absl::StatusOr<Credentials> fetched) {
  const absl::Time now = clock_->Now();
  if (fetched.ok() && fetched->expiration <= now) {
    fetched = absl::UnavailableError(absl::StrCat("the ", source_->Kind(),
                                                  " source answered credentials that expired at ",
                                                  FormatUtc(fetched->expiration)));
  }
  std::vector<Callback> waiters;
  absl::StatusOr<CredentialsSnapshot> answer;
  Result result;
  absl::Duration retry_in;
  {
    absl::MutexLock lock(&mu_);
    fetching_ = false;
    invalidated_ = false;
    if (fetched.ok()) {
      const bool same = held_.snapshot != nullptr && SameTriple(*held_.snapshot, *fetched);
      result = same ? Result::kSame : Result::kNew;
      if (fetched->source.empty()) fetched->source = source_->Kind();
      // The same credentials with the same expiry keep their schedule (a new one computed from
      // now would see a shorter lifetime and push the next refresh later).
      if (!same || fetched->expiration != held_.snapshot->expiration) {
        held_ = Schedule(std::make_shared<const Credentials>(*std::move(fetched)), now);
      }
      consecutive_failures_ = 0;
      last_error_ = absl::OkStatus();
      if (same) {
        // The source has not rotated yet: ask again later, not on every tick.
        retry_in = RandomDuration(random_, options_.same_retry_min, options_.same_retry_max);
        // Never past the point where callers start waiting: from there, try on demand.
        next_attempt_at_ = std::min(now + retry_in, held_.mandatory_at);
      } else {
        next_attempt_at_ = absl::InfinitePast();
      }
      answer = held_.snapshot;
    } else {
      result = Result::kFailed;
      ++consecutive_failures_;
      last_error_ = fetched.status();
      // Capped exponential backoff with full jitter.
      const absl::Duration cap = std::min(
          options_.backoff_cap,
          options_.backoff_initial * static_cast<double>(1ull << std::min<uint64_t>(
                                                             consecutive_failures_ - 1, 30)));
      retry_in = RandomDuration(random_, absl::ZeroDuration(), cap);
      next_attempt_at_ = now + retry_in;
      answer = LastGoodLocked(now);
    }
    stats_.fetches[static_cast<int>(reason)][static_cast<int>(result)]++;
    stats_.last_fetch_latency = now - started;
    waiters.swap(waiters_);
    stats_.waiters = 0;
  }
  if (result == Result::kFailed) {
    Log(LogLevel::kWarning, "credentials refresh failed",
        {{"profile", profile_},
         {"source", source_->Kind()},
         {"reason", ReasonName(reason)},
         {"error", std::string(fetched.status().message())},
         {"consecutive_failures", absl::StrCat(GetStats().consecutive_failures)},
         {"retry_in_ms", absl::StrCat(absl::ToInt64Milliseconds(retry_in))},
         {"serving_last_good", answer.ok() ? "true" : "false"}});
  } else {
    Log(LogLevel::kInfo, "credentials refreshed",
        {{"profile", profile_},
         {"credentials", (*answer)->Describe()},
         {"reason", ReasonName(reason)},
         {"result", ResultName(result)},
         {"expiration", FormatUtc((*answer)->expiration)},
         {"latency_ms", absl::StrFormat("%.1f", absl::ToDoubleMilliseconds(now - started))}});
  }
  for (auto& waiter : waiters) std::move(waiter)(answer);
}

CredentialsCache::Held CredentialsCache::Schedule(CredentialsSnapshot snapshot, absl::Time now) {
  Held held;
  const absl::Time expiration = snapshot->expiration;
  held.snapshot = std::move(snapshot);
  if (expiration == absl::InfiniteFuture()) {
    const absl::Duration recheck = source_->RecheckInterval();
    if (recheck != absl::InfiniteDuration()) held.refresh_at = now + recheck;
    return held;
  }
  // Both windows scale with the lifetime: STS credentials may live 15 minutes (or seconds in
  // tests), and a fixed window would refresh them forever.
  const absl::Duration lifetime = expiration - now;
  const absl::Duration advisory = std::min(absl::Minutes(15), lifetime / 3);
  const absl::Duration mandatory = std::min(absl::Minutes(2), lifetime / 10);
  held.refresh_at = expiration - advisory - RandomDuration(random_, absl::ZeroDuration(), advisory / 5);
  held.mandatory_at = expiration - mandatory;
  held.serve_until = expiration - std::min(options_.skew_guard, mandatory / 2);
  return held;
}

absl::StatusOr<CredentialsSnapshot> CredentialsCache::LastGoodLocked(absl::Time now) const {
  if (held_.snapshot != nullptr && now < held_.serve_until) return held_.snapshot;
  return absl::UnavailableError(absl::StrCat(
      "no valid credentials for profile \"", profile_, "\" (", source_->Kind(), ")",
      last_error_.ok() ? "" : absl::StrCat(": ", last_error_.message())));
}

CacheRefresher::CacheRefresher(std::vector<CredentialsCache*> caches, const Clock* clock,
                               absl::Duration period)
    : caches_(std::move(caches)), clock_(clock) {
  thread_ = std::thread([this, period] {
    while (!stop_.WaitForNotificationWithTimeout(period)) {
      for (CredentialsCache* cache : caches_) cache->Tick(clock_->Now());
    }
  });
}

CacheRefresher::~CacheRefresher() {
  stop_.Notify();
  thread_.join();
}

}  // namespace otaverify

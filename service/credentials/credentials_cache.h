// CredentialsCache: keeps one profile's credentials fresh without ever stalling a call,
// stampeding a source, tearing a key from its token, or switching identity
// (credentials.md §5).
//
// - Advisory refresh: once less than min(15 min, lifetime / 3) is left (minus a random part of
//   up to a fifth of that window, so replicas spread out), the next Tick or Get starts a
//   background fetch; callers keep the current snapshot.
// - Mandatory refresh: once less than min(2 min, lifetime / 10) is left, callers wait for the
//   one fetch in flight (their own deadline bounds the wait).
// - Single flight: at most one fetch per cache, however many callers.
// - Failure: the last good snapshot is served until its real expiry minus a skew guard, while
//   fetches are retried with capped exponential backoff and full jitter; past that, callers get
//   UNAVAILABLE naming the last error. Never a snapshot past its expiry.
// - A fetch returning the same credentials is tried again after 30–60 s.
// - Invalidate drops the snapshot the upstream rejected, if it is still the current one.
// - Credentials that never expire are fetched again every source->RecheckInterval().
//
// Thread-safe. Callbacks run outside the lock: inline in Get, or on the source's thread.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_CACHE_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/types/optional.h"
#include "absl/time/time.h"
#include "service/common/clock.h"
#include "service/credentials/credentials.h"

namespace otaverify {

class CredentialsCache : public CredentialsProvider {
 public:
  struct Options {
    // Kept back from the real expiry when serving a snapshot whose refresh keeps failing.
    absl::Duration skew_guard = absl::Seconds(10);
    absl::Duration backoff_initial = absl::Seconds(1);
    absl::Duration backoff_cap = absl::Seconds(60);
    // When a fetch returns the credentials already held, the next try comes after a random
    // delay in [same_retry_min, same_retry_max].
    absl::Duration same_retry_min = absl::Seconds(30);
    absl::Duration same_retry_max = absl::Seconds(60);
  };

  // Why a fetch was started.
  enum class Reason { kCold, kAdvisory, kMandatory, kInvalidated, kRecheck };
  // How it ended.
  enum class Result { kNew, kSame, kFailed };

  struct Stats {
    // Fetches by reason and result: fetches[reason][result].
    uint64_t fetches[5][3] = {};
    uint64_t consecutive_failures = 0;
    uint64_t waiters = 0;  // callers waiting on the fetch in flight now
    absl::Duration last_fetch_latency;
    absl::Time expiration = absl::InfinitePast();  // of the current snapshot; past if none
    uint64_t Total() const;
  };

  CredentialsCache(std::string profile, std::unique_ptr<CredentialsSource> source,
                   const Clock* clock, Options options);
  CredentialsCache(std::string profile, std::unique_ptr<CredentialsSource> source,
                   const Clock* clock)
      : CredentialsCache(std::move(profile), std::move(source), clock, Options()) {}

  void Get(absl::Time now, Callback done) override;
  void Invalidate(const Credentials& rejected) override;

  // Starts a background fetch if one is due (advisory window, recheck interval, backoff over).
  // Called periodically by a refresher thread; cheap when nothing is due.
  void Tick(absl::Time now);

  Stats GetStats() const;
  const std::string& profile() const { return profile_; }

  static const char* ReasonName(Reason reason);
  static const char* ResultName(Result result);

 private:
  // The snapshot and when to act on it.
  struct Held {
    CredentialsSnapshot snapshot;
    absl::Time refresh_at = absl::InfiniteFuture();    // advisory (or recheck) from here
    absl::Time mandatory_at = absl::InfiniteFuture();  // callers wait from here
    absl::Time serve_until = absl::InfiniteFuture();   // never served from here (expiry - guard)
  };

  // Starts a fetch if none is in flight and backoff allows; returns whether it did.
  bool MaybeStartFetchLocked(absl::Time now, Reason reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fetch(absl::Time now, Reason reason);
  void OnFetched(absl::Time started, Reason reason, absl::StatusOr<Credentials> fetched);
  Held Schedule(CredentialsSnapshot snapshot, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What a caller gets at `now` when no fresh snapshot can be had.
  absl::StatusOr<CredentialsSnapshot> LastGoodLocked(absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string profile_;
  const std::unique_ptr<CredentialsSource> source_;
  const Clock* const clock_;
  const Options options_;

  mutable absl::Mutex mu_;
  Held held_ ABSL_GUARDED_BY(mu_);
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  // The snapshot was dropped by Invalidate and none fetched since.
  bool invalidated_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Callback> waiters_ ABSL_GUARDED_BY(mu_);
  absl::Time next_attempt_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  absl::BitGen random_ ABSL_GUARDED_BY(mu_);
};

// Ticks caches on its own thread, once a `period`, so refreshes happen ahead of expiry (and
// failed ones are retried) whether or not calls arrive. Stops and joins when destroyed.
class CacheRefresher {
 public:
  CacheRefresher(std::vector<CredentialsCache*> caches, const Clock* clock,
                 absl::Duration period = absl::Seconds(1));
  ~CacheRefresher();

 private:
  const std::vector<CredentialsCache*> caches_;
  const Clock* const clock_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_CACHE_H_

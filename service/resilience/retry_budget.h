// RetryBudget: a token bucket that caps how much of the upstream traffic may be retries, so an
// outage does not turn every failing call into several (AWS SDK "standard" retry quota:
// architecture.md, "Admission before retries"). A retry spends tokens, a timed-out attempt more
// (it held a connection and a quota slot for the whole timeout), and every success earns a little
// back. With the defaults, 100 retries in a row without a success drain it; it then refills by
// one retry per 5 successes, so retries stay a small fraction of traffic while the upstream is
// failing and are freely available when it is healthy.
//
// One per upstream endpoint (shared by every account and action calling it). Only retries draw on
// it: first attempts are paced by RateLimiter, not here. Which failures are retryable at all is
// the caller's decision (protocol.md §8).
//
// Thread-safe.
#ifndef OTAVERIFY_SERVICE_RESILIENCE_RETRY_BUDGET_H_
#define OTAVERIFY_SERVICE_RESILIENCE_RETRY_BUDGET_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace otaverify {

class RetryBudget {
 public:
  struct Options {
    int capacity = 500;
    int retry_cost = 5;
    // For a retry after an attempt that timed out.
    int timeout_retry_cost = 10;
    int success_refund = 1;
  };

  // Starts full. Negative options are treated as 0.
  explicit RetryBudget(const Options& options);
  RetryBudget() : RetryBudget(Options()) {}

  RetryBudget(const RetryBudget&) = delete;
  RetryBudget& operator=(const RetryBudget&) = delete;

  // Spends the cost of one retry of a call whose last attempt failed (`timeout`: by timing out).
  // False, and nothing spent, when the budget cannot cover it: the caller must not retry and
  // returns the last attempt's error.
  bool TryAcquire(bool timeout);

  // Any attempt that succeeded, first or retry: refunds success_refund, up to capacity.
  void OnSuccess();

  // Tokens left; for metrics and tests.
  int available() const;

 private:
  const int capacity_;
  const int retry_cost_;
  const int timeout_retry_cost_;
  const int success_refund_;

  mutable absl::Mutex mu_;
  int available_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_RESILIENCE_RETRY_BUDGET_H_

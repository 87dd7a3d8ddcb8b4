// UpstreamCaller: one logical upstream call, carried out with every protection the account and
// the upstream need — quota admission, credentials, signing, a circuit breaker per endpoint,
// retries under a budget, and cancellation.
//
// Per attempt: rate-limit reservation for (account, action) (waiting only while the deadline
// allows, else RESOURCE_EXHAUSTED at once) → breaker → credentials snapshot → sign with a fresh
// nonce and time → send → read. A retryable answer or a failure before sending is retried after
// full-jitter backoff while the deadline and the retry budget allow; Throttling also slows the
// (account, action) limiter down. A rejected key or token is invalidated and re-signed once.
// A failure that leaves open whether a non-idempotent call was processed is returned with
// `outcome_unknown` set, for the caller to reconcile: it is never re-sent blindly.
//
// Thread-safe. `done` runs exactly once, on a transport, scheduler or the calling thread.
// Everything passed to the constructor must outlive the caller and every call in flight.
#ifndef OTAVERIFY_SERVICE_SERVER_UPSTREAM_CALLER_H_
#define OTAVERIFY_SERVICE_SERVER_UPSTREAM_CALLER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"
#include "service/credentials/credentials.h"
#include "service/resilience/circuit_breaker.h"
#include "service/resilience/rate_limiter.h"
#include "service/resilience/retry_budget.h"
#include "service/resilience/scheduler.h"
#include "service/server/signature_mismatch_log.h"
#include "service/transport/http_transport.h"

namespace otaverify {

// One Alibaba Cloud account the gateway can act for: where its calls go and what signs them.
struct Profile {
  std::string name;
  Endpoint endpoint;
  CredentialsProvider* credentials = nullptr;  // not owned
  // Sent when a request names no IoT instance; empty: none.
  std::string iot_instance_id;
};

// Lets the owner of one or more upstream calls abort them: the transfer in flight is aborted
// at once; a call waiting for quota, a retry or credentials finishes with CANCELLED when its
// wait ends (the owner answers its own caller without waiting for that). Shared by the calls
// and their owner; thread-safe.
class CallCancellation {
 public:
  explicit CallCancellation(HttpTransport* transport) : transport_(transport) {}
  void Cancel();
  bool cancelled() const;

  // For the UpstreamCaller: numbers the transfers of every call sharing this cancellation,
  // so a late answer of one cannot unregister the next.
  int NextTransfer();
  // The transfer numbered `sequence` is on its way / done.
  void TransferStarted(int sequence, TransferId id);
  void TransferDone(int sequence);

 private:
  HttpTransport* const transport_;
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::optional<TransferId> transfer_ ABSL_GUARDED_BY(mu_);
  int next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  int finished_sequence_ ABSL_GUARDED_BY(mu_) = 0;
};

// What the UpstreamCaller reports as it works, for metrics. Called without any lock held, on
// whatever thread the work happens; implementations must be thread-safe and quick.
class UpstreamObserver {
 public:
  virtual ~UpstreamObserver() = default;
  // One attempt ended: an answer (`http_status` > 0, `upstream_code` empty on success) or a
  // transport failure (`http_status` 0, `upstream_code` names it: "transport").
  virtual void OnAttempt(absl::string_view action, int http_status, absl::string_view upstream_code,
                         absl::Duration latency, bool new_connection) = 0;
  // A failed attempt is to be tried again after backoff.
  virtual void OnRetry(absl::string_view action) = 0;
  // A call waits `wait` for the account's quota before its attempt.
  virtual void OnQuotaWait(absl::string_view action, absl::Duration wait) = 0;
  // The quota could not take a call before its deadline (GATEWAY_RATE_LIMITED).
  virtual void OnQuotaRejected(absl::string_view action) = 0;
  // The upstream rejected the profile's key or token.
  virtual void OnCredentialsRejected(absl::string_view profile) = 0;
};

struct UpstreamRequest {
  RpcCall call;
  const Profile* profile = nullptr;
  absl::Time deadline = absl::InfiniteFuture();  // in the caller's Clock frame
  bool idempotent = false;
  std::shared_ptr<CallCancellation> cancellation;
};

struct UpstreamResult {
  absl::Status status;  // OK, or the mapped error with its details
  std::string body;     // the successful answer
  bool outcome_unknown = false;
  std::vector<std::string> request_ids;  // the upstream RequestId of each attempt that got one
  int attempts = 0;
  TransferInfo transfer;  // of the last attempt that got an answer
};

class UpstreamCaller {
 public:
  struct Options {
    SignatureVersion signature_version = SignatureVersion::kV3;
    // Cap of one attempt, and the budget of a call without a deadline.
    absl::Duration max_attempt_time = absl::Seconds(15);
    // Per (account, action) quotas in calls per second, already divided by the replica count.
    // Actions not listed are not limited.
    absl::flat_hash_map<std::string, double> quotas;
    // Fraction of each quota the gateway paces itself to.
    double quota_headroom = 0.9;
    absl::Duration backoff_base = absl::Milliseconds(100);
    absl::Duration backoff_cap = absl::Seconds(2);
    int max_attempts = 4;
    RetryBudget::Options retry_budget;
    CircuitBreaker::Options breaker;
    UpstreamObserver* observer = nullptr;  // not owned; may be null
  };

  using Done = absl::AnyInvocable<void(UpstreamResult) &&>;

  UpstreamCaller(Options options, HttpTransport* transport, Scheduler* scheduler,
                 const Clock* clock);

  void Execute(UpstreamRequest request, Done done);

  // Whether each endpoint's breaker is open now, by endpoint base URL (for metrics).
  std::vector<std::pair<std::string, bool>> BreakersOpen() const;

 private:
  struct Call;

  void Admit(std::shared_ptr<Call> call);
  void Attempt(std::shared_ptr<Call> call);
  void OnReply(std::shared_ptr<Call> call, const CredentialsSnapshot& credentials,
               const std::string& string_to_sign, absl::StatusOr<HttpResponse> response);
  // Retries `call` after backoff if the deadline and the budget allow; otherwise finishes it
  // with `failure`.
  void RetryOrFinish(std::shared_ptr<Call> call, UpstreamResult failure, bool timeout);
  void Finish(std::shared_ptr<Call> call, UpstreamResult result);

  RateLimiter* Limiter(const std::string& account, const std::string& action);
  CircuitBreaker* Breaker(const std::string& endpoint);

  const Options options_;
  HttpTransport* const transport_;
  Scheduler* const scheduler_;
  const Clock* const clock_;
  RetryBudget retry_budget_;
  SignatureMismatchLog mismatch_log_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<RateLimiter>> limiters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<CircuitBreaker>> breakers_ ABSL_GUARDED_BY(mu_);
  absl::BitGen random_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_UPSTREAM_CALLER_H_

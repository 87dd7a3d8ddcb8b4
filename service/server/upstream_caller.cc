#include "service/server/upstream_caller.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/rpc/error_details.pb.h"
#include "service/aliyun/error_mapping.h"
#include "service/aliyun/nonce.h"
#include "service/common/log.h"
#include "service/resilience/backoff.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

// Time kept back from the caller's deadline so the answer can still reach it.
constexpr absl::Duration kDeadlineReserve = absl::Milliseconds(50);
// An attempt with less time than this is not started.
constexpr absl::Duration kMinAttemptTime = absl::Milliseconds(5);
// How late a timer may fire: a call waiting for quota is only admitted if it can start this
// much later than planned and still have kMinAttemptTime.
constexpr absl::Duration kSchedulingSlack = absl::Milliseconds(50);

// Upstream codes saying the signing key or token is not (or no longer) valid: worth one
// re-signed attempt with freshly fetched credentials (credentials.md §5.6).
bool RejectsCredentials(absl::string_view code) {
  return absl::StartsWith(code, "InvalidSecurityToken.") ||
         absl::StartsWith(code, "InvalidAccessKeyId.");
}

bool IsThrottling(absl::string_view code) {
  return absl::StartsWith(code, "Throttling") || code == "Rejected.Throttling";
}

UpstreamResult Failure(absl::Status status) {
  UpstreamResult result;
  result.status = std::move(status);
  return result;
}

UpstreamResult CircuitOpen(const UpstreamRequest& request, absl::string_view action,
                           absl::Duration retry_after) {
  absl::Status open =
      GatewayError(absl::StatusCode::kUnavailable,
                   absl::StrCat("the upstream ", request.profile->endpoint.host,
                                " keeps failing; calls are held back while it recovers"),
                   "UPSTREAM_CIRCUIT_OPEN", action);
  AddRetryInfo(open, std::max(retry_after, absl::Milliseconds(100)));
  return Failure(std::move(open));
}

absl::Status Cancelled(absl::string_view action) {
  return GatewayError(absl::StatusCode::kCancelled, "call cancelled", "CALL_CANCELLED", action);
}

}  // namespace

void CallCancellation::Cancel() {
  absl::optional<TransferId> transfer;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    transfer = transfer_;
  }
  if (transfer.has_value()) transport_->Cancel(*transfer);
}

bool CallCancellation::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

int CallCancellation::NextTransfer() {
  absl::MutexLock lock(&mu_);
  return ++next_sequence_;
}

void CallCancellation::TransferStarted(int sequence, TransferId id) {
  bool cancel = false;
  {
    absl::MutexLock lock(&mu_);
    if (sequence <= finished_sequence_) return;  // its answer came first
    transfer_ = id;
    cancel = cancelled_;
  }
  if (cancel) transport_->Cancel(id);
}

void CallCancellation::TransferDone(int sequence) {
  absl::MutexLock lock(&mu_);
  finished_sequence_ = std::max(finished_sequence_, sequence);
  transfer_ = absl::nullopt;
}

struct UpstreamCaller::Call {
  UpstreamRequest request;
  Done done;
  std::vector<std::string> request_ids;
  int attempt = 0;           // attempts started
  absl::Time attempt_start;  // of the attempt in flight
  int transfer = 0;          // the CallCancellation sequence of the current attempt's transfer
  bool credentials_refreshed = false;
  std::atomic<bool> finished{false};

  const std::string& action() const { return request.call.action; }
  bool cancelled() const { return request.cancellation->cancelled(); }
};

UpstreamCaller::UpstreamCaller(Options options, HttpTransport* transport, Scheduler* scheduler,
                               const Clock* clock)
    : options_(std::move(options)),
      transport_(transport),
      scheduler_(scheduler),
      clock_(clock),
      retry_budget_(options_.retry_budget) {}

void UpstreamCaller::Execute(UpstreamRequest request, Done done) {
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->done = std::move(done);
  Admit(std::move(call));
}

// Quota first: a call the account's quota cannot take before its deadline fails now rather
// than being sent to be throttled.
void UpstreamCaller::Admit(std::shared_ptr<Call> call) {
  if (call->cancelled()) return Finish(call, Failure(Cancelled(call->action())));
  // An open breaker fails the call before it takes a quota slot it would never use.
  CircuitBreaker* breaker = Breaker(call->request.profile->endpoint.base_url);
  const absl::Duration breaker_wait = breaker->RetryAfter(clock_->Now());
  if (breaker_wait > absl::ZeroDuration())
    return Finish(call, CircuitOpen(call->request, call->action(), breaker_wait));
  RateLimiter* limiter = Limiter(call->request.profile->name, call->action());
  if (limiter != nullptr) {
    const absl::Time now = clock_->Now();
    const absl::optional<absl::Time> start = limiter->Reserve(
        now, call->request.deadline - kDeadlineReserve - kMinAttemptTime - kSchedulingSlack);
    if (!start.has_value()) {
      const double rate = limiter->CurrentRate(now);
      absl::Status limited = GatewayError(
          absl::StatusCode::kResourceExhausted,
          absl::StrFormat("the account's %s quota (%.1f calls/s now) cannot take this call "
                          "before its deadline",
                          call->action(), rate),
          "GATEWAY_RATE_LIMITED", call->action());
      AddRetryInfo(limited, absl::Milliseconds(std::max(1.0, 1000.0 / std::max(rate, 0.001))));
      google::rpc::QuotaFailure quota;
      auto* violation = quota.add_violations();
      violation->set_subject(absl::StrCat("account:", call->request.profile->name));
      violation->set_description(
          absl::StrFormat("%s is limited to %.1f calls per second for this account (shared by "
                          "every caller of the gateway)",
                          call->action(), rate));
      SetDetail(limited, quota);
      if (options_.observer != nullptr) options_.observer->OnQuotaRejected(call->action());
      return Finish(call, Failure(std::move(limited)));
    }
    if (*start > now) {
      if (options_.observer != nullptr)
        options_.observer->OnQuotaWait(call->action(), *start - now);
      scheduler_->RunAfter(*start - now, [this, call] { Attempt(call); });
      return;
    }
  }
  Attempt(std::move(call));
}

void UpstreamCaller::Attempt(std::shared_ptr<Call> call) {
  if (call->cancelled()) return Finish(call, Failure(Cancelled(call->action())));
  const absl::Time now = clock_->Now();
  if (call->request.deadline - now - kDeadlineReserve < kMinAttemptTime) {
    return Finish(call, Failure(GatewayError(absl::StatusCode::kDeadlineExceeded,
                                             "the call's deadline leaves too little time to "
                                             "reach the upstream; nothing was sent",
                                             "DEADLINE_TOO_SHORT", call->action())));
  }
  CircuitBreaker* breaker = Breaker(call->request.profile->endpoint.base_url);
  if (!breaker->Allow(now))
    return Finish(call, CircuitOpen(call->request, call->action(), breaker->RetryAfter(now)));
  ++call->attempt;
  call->request.profile->credentials->Get(
      now, [this, call, breaker](absl::StatusOr<CredentialsSnapshot> snapshot) {
        if (call->cancelled()) {
          breaker->OnAbandoned();
          return Finish(call, Failure(Cancelled(call->action())));
        }
        if (!snapshot.ok()) {
          breaker->OnAbandoned();
          Log(LogLevel::kError, "no usable credentials",
              {{"profile", call->request.profile->name},
               {"error", std::string(snapshot.status().message())}});
          absl::Status unavailable =
              GatewayError(absl::StatusCode::kUnavailable, "the gateway has no usable credentials",
                           "GATEWAY_CREDENTIALS_UNAVAILABLE", call->action());
          AddRetryInfo(unavailable, absl::Seconds(1));
          return Finish(call, Failure(std::move(unavailable)));
        }
        const absl::Time now = clock_->Now();
        absl::Duration budget = call->request.deadline - now - kDeadlineReserve;
        // A create that times out must leave time to find out whether it happened.
        if (!call->request.idempotent) budget = budget * 2 / 3;
        budget = std::min(options_.max_attempt_time, budget);
        if (budget < kMinAttemptTime) {
          breaker->OnAbandoned();
          return Finish(call, Failure(GatewayError(absl::StatusCode::kDeadlineExceeded,
                                                   "deadline reached before sending",
                                                   "DEADLINE_TOO_SHORT", call->action())));
        }
        SignedRequest signed_request =
            SignRpcCall(call->request.call, **snapshot, call->request.profile->endpoint,
                        options_.signature_version, now, NewNonce());
        signed_request.request.timeout = budget;
        call->attempt_start = now;
        const int sequence = call->transfer = call->request.cancellation->NextTransfer();
        const TransferId id =
            transport_->Send(std::move(signed_request.request),
                             [this, call, snapshot = *snapshot,
                              string_to_sign = std::move(signed_request.string_to_sign)](
                                 absl::StatusOr<HttpResponse> response) mutable {
                               OnReply(call, snapshot, string_to_sign, std::move(response));
                             });
        call->request.cancellation->TransferStarted(sequence, id);
      });
}

void UpstreamCaller::OnReply(std::shared_ptr<Call> call, const CredentialsSnapshot& credentials,
                             const std::string& string_to_sign,
                             absl::StatusOr<HttpResponse> response) {
  call->request.cancellation->TransferDone(call->transfer);
  const absl::Time now = clock_->Now();
  CircuitBreaker* breaker = Breaker(call->request.profile->endpoint.base_url);
  const ReplyContext context{call->action(), call->request.idempotent, credentials.get()};

  if (!response.ok() && options_.observer != nullptr &&
      response.status().code() != absl::StatusCode::kCancelled) {
    options_.observer->OnAttempt(call->action(), 0, "transport", now - call->attempt_start, false);
  }
  if (!response.ok()) {
    const absl::Status& failure = response.status();
    UpstreamResult result = Failure(MapTransportFailure(failure, context));
    if (failure.code() == absl::StatusCode::kCancelled ||
        (failure.code() == absl::StatusCode::kDeadlineExceeded && WasNotSent(failure))) {
      // Says nothing about the upstream's health: the caller left, or the call queued for a
      // connection until its time was up.
      breaker->OnAbandoned();
      return Finish(call, std::move(result));
    }
    breaker->OnFailure(now);
    if (WasNotSent(failure)) return RetryOrFinish(call, std::move(result), /*timeout=*/false);
    if (!call->request.idempotent) {
      result.outcome_unknown = true;
      return Finish(call, std::move(result));
    }
    return RetryOrFinish(call, std::move(result),
                         failure.code() == absl::StatusCode::kDeadlineExceeded);
  }

  const UpstreamReply reply = ReadUpstreamReply(*response, context);
  if (options_.observer != nullptr) {
    options_.observer->OnAttempt(call->action(), response->status, reply.code,
                                 now - call->attempt_start, response->info.new_connection);
  }
  if (!reply.request_id.empty()) call->request_ids.push_back(reply.request_id);
  if (reply.code == "SignatureDoesNotMatch") {
    mismatch_log_.Report(call->request.call, options_.signature_version, string_to_sign,
                         reply.message, reply.request_id, *credentials);
  }
  if (reply.upstream_unhealthy) {
    breaker->OnFailure(now);
  } else if (IsThrottling(reply.code)) {
    breaker->OnAbandoned();
    // Replicas sharing an account converge below its quota by slowing down on every throttle.
    RateLimiter* limiter = Limiter(call->request.profile->name, call->action());
    if (limiter != nullptr && limiter->OnThrottled(now)) {
      Log(LogLevel::kWarning, "upstream throttled the account; slowing down",
          {{"profile", call->request.profile->name},
           {"action", call->action()},
           {"rate_per_second", absl::StrFormat("%.2f", limiter->CurrentRate(now))},
           {"upstream_request_id", reply.request_id}});
    }
  } else {
    breaker->OnSuccess();
  }

  if (RejectsCredentials(reply.code) && !call->credentials_refreshed && !call->cancelled()) {
    Log(LogLevel::kWarning, "upstream rejected the credentials; refreshing and re-signing once",
        {{"action", call->action()},
         {"upstream_code", reply.code},
         {"upstream_request_id", reply.request_id},
         {"credentials", credentials->Describe()}});
    call->credentials_refreshed = true;
    if (options_.observer != nullptr) {
      options_.observer->OnCredentialsRejected(call->request.profile->name);
    }
    call->request.profile->credentials->Invalidate(*credentials);
    return Admit(std::move(call));
  }

  UpstreamResult result = Failure(reply.status);
  result.transfer = response->info;
  result.outcome_unknown = reply.outcome_unknown;
  if (reply.status.ok()) {
    retry_budget_.OnSuccess();
    result.body = std::move(response->body);
    return Finish(call, std::move(result));
  }
  if (result.outcome_unknown && !call->request.idempotent) return Finish(call, std::move(result));
  if (reply.retryable) return RetryOrFinish(call, std::move(result), /*timeout=*/false);
  Finish(call, std::move(result));
}

void UpstreamCaller::RetryOrFinish(std::shared_ptr<Call> call, UpstreamResult failure,
                                   bool timeout) {
  if (call->cancelled() || call->attempt >= options_.max_attempts) {
    return Finish(call, std::move(failure));
  }
  absl::Duration backoff;
  {
    absl::MutexLock lock(&mu_);
    backoff =
        FullJitterBackoff(call->attempt, options_.backoff_base, options_.backoff_cap, random_);
  }
  const absl::Time now = clock_->Now();
  if (now + backoff + kMinAttemptTime >= call->request.deadline - kDeadlineReserve) {
    return Finish(call, std::move(failure));
  }
  // The budget is shared by every call: under a broad outage retries stop, not multiply.
  if (!retry_budget_.TryAcquire(timeout)) return Finish(call, std::move(failure));
  if (options_.observer != nullptr) options_.observer->OnRetry(call->action());
  scheduler_->RunAfter(backoff, [this, call] { Admit(call); });
}

void UpstreamCaller::Finish(std::shared_ptr<Call> call, UpstreamResult result) {
  if (call->finished.exchange(true)) return;
  result.request_ids = std::move(call->request_ids);
  result.attempts = call->attempt;
  std::move(call->done)(std::move(result));
}

RateLimiter* UpstreamCaller::Limiter(const std::string& account, const std::string& action) {
  auto quota = options_.quotas.find(action);
  if (quota == options_.quotas.end()) return nullptr;
  const std::string key = absl::StrCat(account, "\n", action);
  absl::MutexLock lock(&mu_);
  std::unique_ptr<RateLimiter>& limiter = limiters_[key];
  if (limiter == nullptr) {
    RateLimiter::Options limiter_options;
    // Paced one at a time (no burst) a little below the quota: requests that leave evenly
    // spaced can still arrive bunched, and replicas' shares never add up exactly.
    limiter_options.rate_per_second = quota->second * options_.quota_headroom;
    limiter_options.burst = 1;
    // Recovery after a throttle is slow (1 % of the rate per second): replicas that share an
    // account know of each other only through the upstream's throttling, and each return to
    // full speed that overshoots the quota costs a few throttled calls.
    limiter_options.recovery_per_second = limiter_options.rate_per_second * 0.01;
    limiter = std::make_unique<RateLimiter>(limiter_options, clock_->Now());
  }
  return limiter.get();
}

std::vector<std::pair<std::string, bool>> UpstreamCaller::BreakersOpen() const {
  const absl::Time now = clock_->Now();
  std::vector<std::pair<std::string, bool>> open;
  absl::MutexLock lock(&mu_);
  for (const auto& [endpoint, breaker] : breakers_) {
    open.emplace_back(endpoint, breaker->state(now) == CircuitBreaker::State::kOpen);
  }
  return open;
}

CircuitBreaker* UpstreamCaller::Breaker(const std::string& endpoint) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<CircuitBreaker>& breaker = breakers_[endpoint];
  if (breaker == nullptr) breaker = std::make_unique<CircuitBreaker>(options_.breaker);
  return breaker.get();
}

}  // namespace otaverify

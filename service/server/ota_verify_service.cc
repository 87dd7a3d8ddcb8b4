#include "service/server/ota_verify_service.h"

#include <chrono>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "service/aliyun/create_verify_job.h"
#include "service/aliyun/error_mapping.h"
#include "service/aliyun/nonce.h"
#include "service/server/log.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

constexpr char kUpstreamRequestIdTrailer[] = "x-upstream-request-id";
constexpr char kDefaultAccount[] = "default";
// Time kept back from the caller's deadline so the answer can still reach it.
constexpr absl::Duration kDeadlineReserve = absl::Milliseconds(50);
// An attempt with less time than this is not started.
constexpr absl::Duration kMinAttemptTime = absl::Milliseconds(5);

// Upstream codes saying the signing key or token is not (or no longer) valid: worth one
// re-signed attempt with freshly fetched credentials (credentials.md §5.6).
bool RejectsCredentials(absl::string_view code) {
  return absl::StartsWith(code, "InvalidSecurityToken.") ||
         absl::StartsWith(code, "InvalidAccessKeyId.");
}

}  // namespace

// Everything one call's asynchronous steps share. Outlives the reactor: a step that completes
// after the call was finished (cancelled) finds the claim taken and does nothing.
class OtaVerifyService::CallState {
 public:
  CallState(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
            v1::CreateVerifyJobResponse* response, HttpTransport* transport, const Clock* clock,
            std::string account)
      : context_(context),
        reactor_(reactor),
        response_(response),
        transport_(transport),
        clock_(clock),
        account_(std::move(account)),
        start_(clock->Now()) {}

  // Fixed before the first asynchronous step.
  RpcCall call;
  const Profile* profile = nullptr;
  absl::Time deadline = absl::InfiniteFuture();

  absl::Time start() const { return start_; }

  // True exactly once: the caller then owns the response and must call Finish.
  bool Claim() {
    absl::MutexLock lock(&mu_);
    if (claimed_) return false;
    claimed_ = true;
    return true;
  }

  // REQUIRES: Claim() returned true to this caller.
  v1::CreateVerifyJobResponse* response() { return response_; }

  // REQUIRES: Claim() returned true to this caller. The reactor may be gone right after.
  void Finish(const absl::Status& status, const std::string& upstream_request_id, int attempts) {
    if (!upstream_request_id.empty()) {
      context_->AddTrailingMetadata(kUpstreamRequestIdTrailer, upstream_request_id);
    }
    Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning,
        status.ok() ? "ok" : status.message(),
        {{"method", "CreateVerifyJob"},
         {"grpc_code", StatusCodeName(status.code())},
         {"duration_ms",
          absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(clock_->Now() - start_))},
         {"account", account_.empty() ? kDefaultAccount : account_},
         {"action", attempts > 0 ? call.action : ""},
         {"upstream_request_id", upstream_request_id},
         {"attempt", absl::StrCat(attempts)}});
    reactor_->Finish(ToGrpcStatus(status));
  }

  // Finishes the call with `status` unless it is finished already; for steps that send nothing.
  void TryFinish(const absl::Status& status) {
    if (Claim()) Finish(status, "", 0);
  }

  // The transfer of `attempt` is on its way (or, if its answer came first, already done).
  void TransferStarted(int attempt, TransferId id) {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      if (attempt <= finished_attempt_) return;
      transfer_ = id;
      cancel = cancelled_;
    }
    if (cancel) transport_->Cancel(id);
  }

  void TransferDone(int attempt) {
    absl::MutexLock lock(&mu_);
    finished_attempt_ = attempt;
    transfer_ = absl::nullopt;
  }

  // From OnCancel: aborts the transfer in flight, whose answer then finishes the call; with
  // none in flight (waiting on credentials), finishes the call now.
  void Cancel() {
    absl::optional<TransferId> transfer;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      transfer = transfer_;
    }
    if (transfer.has_value()) {
      transport_->Cancel(*transfer);
    } else {
      TryFinish(absl::CancelledError("call cancelled"));
    }
  }

  bool cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

 private:
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  v1::CreateVerifyJobResponse* const response_;
  HttpTransport* const transport_;
  const Clock* const clock_;
  const std::string account_;
  const absl::Time start_;

  mutable absl::Mutex mu_;
  bool claimed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::optional<TransferId> transfer_ ABSL_GUARDED_BY(mu_);
  int finished_attempt_ ABSL_GUARDED_BY(mu_) = 0;
};

// One call's gRPC side: forwards cancellation, releases the in-flight place, deletes itself.
class OtaVerifyService::Reactor : public grpc::ServerUnaryReactor {
 public:
  explicit Reactor(OtaVerifyService* service) : service_(service) {}

  void Bind(std::shared_ptr<CallState> state) { state_ = std::move(state); }

  // Takes one of the service's in-flight places until OnDone; false if none is free.
  bool Admit() {
    if (service_->in_flight_.fetch_add(1, std::memory_order_relaxed) >=
        service_->options_.max_in_flight) {
      service_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    admitted_ = true;
    return true;
  }

  void OnCancel() override { state_->Cancel(); }

  void OnDone() override {
    if (admitted_) service_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
    delete this;
  }

 private:
  OtaVerifyService* const service_;
  std::shared_ptr<CallState> state_;
  bool admitted_ = false;
};

OtaVerifyService::OtaVerifyService(Options options, HttpTransport* transport, const Clock* clock)
    : options_(std::move(options)), transport_(transport), clock_(clock) {}

grpc::ServerUnaryReactor* OtaVerifyService::CreateVerifyJob(
    grpc::CallbackServerContext* context, const v1::CreateVerifyJobRequest* request,
    v1::CreateVerifyJobResponse* response) {
  auto* reactor = new Reactor(this);
  auto state = std::make_shared<CallState>(context, reactor, response, transport_, clock_,
                                           request->account());
  reactor->Bind(state);

  if (absl::Status valid = ValidateCreateVerifyJob(*request); !valid.ok()) {
    state->TryFinish(valid);
    return reactor;
  }
  auto profile = options_.profiles.find(request->account().empty() ? kDefaultAccount
                                                                   : request->account());
  if (profile == options_.profiles.end()) {
    // Names only what the caller asked for, never the configured profiles.
    state->TryFinish(absl::NotFoundError(
        absl::StrCat("account \"", request->account(), "\" is not configured")));
    return reactor;
  }
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    state->deadline = absl::FromChrono(context->deadline());
  }
  if (!reactor->Admit()) {
    absl::Status overloaded =
        GatewayError(absl::StatusCode::kUnavailable,
                     absl::StrCat("the gateway has ", options_.max_in_flight,
                                  " calls waiting on the upstream; try again shortly"),
                     "GATEWAY_OVERLOADED", kCreateOTAVerifyJob);
    AddRetryInfo(overloaded, absl::Seconds(1));
    state->TryFinish(overloaded);
    return reactor;
  }
  state->profile = &profile->second;
  state->call = CreateVerifyJobCall(*request);
  if (request->iot_instance_id().empty() && !profile->second.iot_instance_id.empty()) {
    state->call.params.emplace_back("IotInstanceId", profile->second.iot_instance_id);
  }
  StartAttempt(std::move(state), 1);
  return reactor;
}

void OtaVerifyService::StartAttempt(std::shared_ptr<CallState> state, int attempt) {
  CredentialsProvider* credentials = state->profile->credentials;
  credentials->Get(clock_->Now(), [this, state = std::move(state),
                                   attempt](absl::StatusOr<CredentialsSnapshot> snapshot) mutable {
    if (state->cancelled()) {
      state->TryFinish(absl::CancelledError("call cancelled"));
      return;
    }
    if (!snapshot.ok()) {
      Log(LogLevel::kError, "no usable credentials",
          {{"error", std::string(snapshot.status().message())}});
      absl::Status unavailable =
          GatewayError(absl::StatusCode::kUnavailable, "the gateway has no usable credentials",
                       "GATEWAY_CREDENTIALS_UNAVAILABLE", state->call.action);
      AddRetryInfo(unavailable, absl::Seconds(1));
      state->TryFinish(unavailable);
      return;
    }
    const absl::Time now = clock_->Now();
    const absl::Duration budget =
        std::min(options_.max_attempt_time, state->deadline - now - kDeadlineReserve);
    if (budget < kMinAttemptTime) {
      state->TryFinish(absl::DeadlineExceededError("deadline too short to reach the upstream"));
      return;
    }
    SignedRequest signed_request = SignRpcCall(state->call, **snapshot, state->profile->endpoint,
                                               options_.signature_version, now, NewNonce());
    signed_request.request.timeout = budget;
    const TransferId id = transport_->Send(
        std::move(signed_request.request),
        [this, state, attempt, snapshot = *snapshot,
         string_to_sign = std::move(signed_request.string_to_sign)](
            absl::StatusOr<HttpResponse> http_response) mutable {
          OnReply(std::move(state), attempt, snapshot, string_to_sign, std::move(http_response));
        });
    state->TransferStarted(attempt, id);
  });
}

void OtaVerifyService::OnReply(std::shared_ptr<CallState> state, int attempt,
                               const CredentialsSnapshot& credentials,
                               const std::string& string_to_sign,
                               absl::StatusOr<HttpResponse> http_response) {
  state->TransferDone(attempt);
  const std::string& action = state->call.action;
  if (!http_response.ok()) {
    if (state->Claim()) {
      state->Finish(MapTransportFailure(http_response.status(), action, /*idempotent=*/false), "",
                    attempt);
    }
    return;
  }
  UpstreamReply reply = ReadUpstreamReply(*http_response, action);
  if (!reply.status.ok()) {
    // The upstream may echo what was signed (a V1 string-to-sign holds the token).
    http_response->body = RedactSecrets(std::move(http_response->body), *credentials);
    reply = ReadUpstreamReply(*http_response, action);
  }
  if (reply.code == "SignatureDoesNotMatch") {
    mismatch_log_.Report(state->call, options_.signature_version, string_to_sign, reply.message,
                         reply.request_id, *credentials);
  }
  if (attempt == 1 && RejectsCredentials(reply.code) && !state->cancelled()) {
    Log(LogLevel::kWarning, "upstream rejected the credentials; refreshing and re-signing once",
        {{"action", action},
         {"upstream_code", reply.code},
         {"upstream_request_id", reply.request_id},
         {"credentials", credentials->Describe()}});
    state->profile->credentials->Invalidate(*credentials);
    StartAttempt(std::move(state), attempt + 1);
    return;
  }
  if (!state->Claim()) return;
  absl::Status status = reply.status;
  if (status.ok()) {
    absl::StatusOr<v1::CreateVerifyJobResponse> parsed =
        ParseCreateVerifyJobResponse(http_response->body);
    if (parsed.ok()) {
      *state->response() = *std::move(parsed);
    } else {
      status = parsed.status();
    }
  }
  state->Finish(status, reply.request_id, attempt);
}

}  // namespace otaverify

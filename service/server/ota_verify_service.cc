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
#include "service/common/log.h"
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
std::string Millis(absl::Duration d) {
  return absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(d));
}

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

  // What the last upstream exchange of the call tells the access log.
  struct Upstream {
    std::string request_id;
    const TransferInfo* transfer = nullptr;
  };

  // REQUIRES: Claim() returned true to this caller. The reactor may be gone right after.
  void Finish(const absl::Status& status, const Upstream& upstream, int attempts) {
    if (!upstream.request_id.empty()) {
      context_->AddTrailingMetadata(kUpstreamRequestIdTrailer, upstream.request_id);
    }
    const TransferInfo none;
    const TransferInfo& transfer = upstream.transfer != nullptr ? *upstream.transfer : none;
    Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning,
        status.ok() ? "ok" : status.message(),
        {{"method", "CreateVerifyJob"},
         {"grpc_code", StatusCodeName(status.code())},
         {"duration_ms", Millis(clock_->Now() - start_)},
         {"account", account_.empty() ? kDefaultAccount : account_},
         {"action", attempts > 0 ? call.action : ""},
         {"upstream_request_id", upstream.request_id},
         {"attempt", absl::StrCat(attempts)},
         {"upstream_ms", upstream.transfer != nullptr ? Millis(transfer.total_time) : ""},
         {"upstream_http_version", transfer.http_version},
         {"upstream_new_connection",
          upstream.transfer == nullptr ? "" : transfer.new_connection ? "true" : "false"},
         {"upstream_tls_handshake_ms",
          transfer.tls_handshake_time > absl::ZeroDuration() ? Millis(transfer.tls_handshake_time)
                                                              : ""}});
    reactor_->Finish(ToGrpcStatus(status));
  }

  // Finishes the call with `status` unless it is finished already; for steps that send nothing.
  void TryFinish(const absl::Status& status) {
    if (Claim()) Finish(status, {}, 0);
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
      TryFinish(Cancelled());
    }
  }

  static absl::Status Cancelled() {
    return GatewayError(absl::StatusCode::kCancelled, "call cancelled", "CALL_CANCELLED", "");
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
    state->TryFinish(GatewayError(
        absl::StatusCode::kNotFound,
        absl::StrCat("account \"", request->account(), "\" is not configured"),
        "ACCOUNT_NOT_FOUND", kCreateOTAVerifyJob));
    return reactor;
  }
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    // gRPC deadlines are wall-clock; carry the time left over into the service clock's frame.
    state->deadline = state->start() + (absl::FromChrono(context->deadline()) - absl::Now());
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
      state->TryFinish(CallState::Cancelled());
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
      state->TryFinish(GatewayError(absl::StatusCode::kDeadlineExceeded,
                                    "the call's deadline leaves too little time to reach the "
                                    "upstream; nothing was sent",
                                    "DEADLINE_TOO_SHORT", state->call.action));
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
  const ReplyContext context{state->call.action, /*idempotent=*/false, credentials.get()};
  if (!http_response.ok()) {
    if (state->Claim()) {
      state->Finish(MapTransportFailure(http_response.status(), context), {}, attempt);
    }
    return;
  }
  const UpstreamReply reply = ReadUpstreamReply(*http_response, context);
  if (reply.code == "SignatureDoesNotMatch") {
    mismatch_log_.Report(state->call, options_.signature_version, string_to_sign, reply.message,
                         reply.request_id, *credentials);
  }
  if (attempt == 1 && RejectsCredentials(reply.code) && !state->cancelled()) {
    Log(LogLevel::kWarning, "upstream rejected the credentials; refreshing and re-signing once",
        {{"action", std::string(context.action)},
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
      // The upstream said yes in a shape we cannot read: the job may well exist.
      status = GatewayError(
          absl::StatusCode::kUnknown,
          absl::StrCat(parsed.status().message(), " (the job may exist: check before retrying)"),
          "UPSTREAM_MALFORMED_RESPONSE", context.action,
          {{"upstream_request_id", reply.request_id}});
    }
  }
  state->Finish(status, {reply.request_id, &http_response->info}, attempt);
}

}  // namespace otaverify

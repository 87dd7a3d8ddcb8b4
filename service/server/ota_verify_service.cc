#include "service/server/ota_verify_service.h"

#include <chrono>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
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
// Time kept back from the caller's deadline so the answer can still reach it.
constexpr absl::Duration kDeadlineReserve = absl::Milliseconds(50);
// An attempt with less time than this is not started.
constexpr absl::Duration kMinAttemptTime = absl::Milliseconds(5);

// What the access log line of one call says.
struct CallRecord {
  std::string method;
  std::string account;
  std::string action;
  absl::Time start;
  std::string upstream_request_id;
};

absl::Status AccountNotFound(absl::string_view account) {
  // Names only what the caller asked for, never the configured profiles.
  return absl::NotFoundError(absl::StrCat("account \"", account, "\" is not configured"));
}

// The transfer a call is waiting on, shared by the reactor (which may cancel it) and the code
// that started it; either may come first, and either may outlive the reactor.
class TransferSlot {
 public:
  explicit TransferSlot(HttpTransport* transport) : transport_(transport) {}

  void Started(TransferId id) {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      id_ = id;
      cancel = cancelled_;
    }
    if (cancel) transport_->Cancel(id);
  }

  void Cancel() {
    absl::optional<TransferId> id;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      id = id_;
    }
    if (id.has_value()) transport_->Cancel(*id);
  }

 private:
  HttpTransport* const transport_;
  absl::Mutex mu_;
  absl::optional<TransferId> id_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

// One call. Finish is called exactly once on every path; OnCancel aborts the upstream
// transfer, whose callback then finishes the call. Deletes itself in OnDone.
class OtaVerifyService::Reactor : public grpc::ServerUnaryReactor {
 public:
  Reactor(OtaVerifyService* service, grpc::CallbackServerContext* context, std::string method,
          std::string account)
      : service_(service),
        context_(context),
        transfer_(std::make_shared<TransferSlot>(service->transport_)),
        record_{std::move(method), std::move(account), "", service->clock_->Now(), ""} {}

  const CallRecord& record() const { return record_; }
  CallRecord& record() { return record_; }
  const std::shared_ptr<TransferSlot>& transfer() const { return transfer_; }

  // Takes one of the service's in-flight places until OnDone; false if none is free.
  bool Admit() {
    const int max = service_->options_.max_in_flight;
    if (service_->in_flight_.fetch_add(1, std::memory_order_relaxed) >= max) {
      service_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    admitted_ = true;
    return true;
  }

  void FinishWith(const absl::Status& status) {
    if (!record_.upstream_request_id.empty()) {
      context_->AddTrailingMetadata(kUpstreamRequestIdTrailer, record_.upstream_request_id);
    }
    Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning,
        status.ok() ? "ok" : status.message(),
        {{"method", record_.method},
         {"grpc_code", StatusCodeName(status.code())},
         {"duration_ms", absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(
                                                     service_->clock_->Now() - record_.start))},
         {"account", record_.account.empty() ? "default" : record_.account},
         {"action", record_.action},
         {"upstream_request_id", record_.upstream_request_id},
         {"attempt", record_.action.empty() ? "0" : "1"}});
    Finish(ToGrpcStatus(status));
  }

  void OnCancel() override { transfer_->Cancel(); }

  void OnDone() override {
    if (admitted_) service_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
    delete this;
  }

 private:
  OtaVerifyService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::shared_ptr<TransferSlot> transfer_;
  CallRecord record_;
  bool admitted_ = false;
};

OtaVerifyService::OtaVerifyService(Options options, CredentialsProvider* credentials,
                                   HttpTransport* transport, const Clock* clock)
    : options_(std::move(options)),
      credentials_(credentials),
      transport_(transport),
      clock_(clock) {}

grpc::ServerUnaryReactor* OtaVerifyService::CreateVerifyJob(
    grpc::CallbackServerContext* context, const v1::CreateVerifyJobRequest* request,
    v1::CreateVerifyJobResponse* response) {
  auto* reactor = new Reactor(this, context, "CreateVerifyJob", request->account());
  const absl::Time now = reactor->record().start;

  if (absl::Status valid = ValidateCreateVerifyJob(*request); !valid.ok()) {
    reactor->FinishWith(valid);
    return reactor;
  }
  if (!request->account().empty() && request->account() != "default") {
    reactor->FinishWith(AccountNotFound(request->account()));
    return reactor;
  }
  absl::Duration budget = options_.max_attempt_time;
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    budget = std::min(budget, absl::FromChrono(context->deadline()) - now - kDeadlineReserve);
  }
  if (budget < kMinAttemptTime) {
    reactor->FinishWith(absl::DeadlineExceededError("deadline too short to reach the upstream"));
    return reactor;
  }
  if (!reactor->Admit()) {
    absl::Status overloaded =
        GatewayError(absl::StatusCode::kUnavailable,
                     absl::StrCat("the gateway has ", options_.max_in_flight,
                                  " calls waiting on the upstream; try again shortly"),
                     "GATEWAY_OVERLOADED", kCreateOTAVerifyJob);
    AddRetryInfo(overloaded, absl::Seconds(1));
    reactor->FinishWith(overloaded);
    return reactor;
  }

  absl::StatusOr<std::shared_ptr<const Credentials>> credentials = credentials_->Get(now);
  if (!credentials.ok()) {
    Log(LogLevel::kError, "no usable credentials",
        {{"error", std::string(credentials.status().message())}});
    reactor->FinishWith(absl::UnavailableError("the gateway has no usable credentials"));
    return reactor;
  }

  reactor->record().action = kCreateOTAVerifyJob;
  RpcCall call = CreateVerifyJobCall(*request);
  SignedRequest signed_request = SignRpcCall(call, **credentials, options_.endpoint,
                                             options_.signature_version, now, NewNonce());
  signed_request.request.timeout = budget;
  HttpRequest http = std::move(signed_request.request);
  std::shared_ptr<TransferSlot> transfer = reactor->transfer();
  const TransferId id = transport_->Send(
      std::move(http),
      [this, reactor, response, call = std::move(call),
       string_to_sign = std::move(signed_request.string_to_sign),
       credentials = *std::move(credentials)](absl::StatusOr<HttpResponse> http_response) mutable {
        const std::string& action = reactor->record().action;
        if (!http_response.ok()) {
          reactor->FinishWith(
              MapTransportFailure(http_response.status(), action, /*idempotent=*/false));
          return;
        }
        UpstreamReply reply = ReadUpstreamReply(*http_response, action);
        if (!reply.status.ok()) {
          // The upstream may echo what was signed (a V1 string-to-sign holds the token).
          http_response->body = RedactSecrets(std::move(http_response->body), *credentials);
          reply = ReadUpstreamReply(*http_response, action);
        }
        if (reply.code == "SignatureDoesNotMatch") {
          mismatch_log_.Report(call, options_.signature_version, string_to_sign, reply.message,
                               reply.request_id, *credentials);
        }
        reactor->record().upstream_request_id = reply.request_id;
        absl::Status status = reply.status;
        if (status.ok()) {
          absl::StatusOr<v1::CreateVerifyJobResponse> parsed =
              ParseCreateVerifyJobResponse(http_response->body);
          if (parsed.ok()) {
            *response = *std::move(parsed);
          } else {
            status = parsed.status();
          }
        }
        reactor->FinishWith(status);
      });
  // The reactor may be gone by now (the transfer can finish first); the slot is not.
  transfer->Started(id);
  return reactor;
}

}  // namespace otaverify

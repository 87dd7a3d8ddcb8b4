#include "service/server/ota_verify_service.h"

#include <chrono>
#include <utility>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "service/aliyun/create_verify_job.h"
#include "service/aliyun/error_mapping.h"
#include "service/server/log.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

constexpr char kUpstreamRequestIdTrailer[] = "x-upstream-request-id";
// Time kept back from the caller's deadline so the answer can still reach it.
constexpr absl::Duration kDeadlineReserve = absl::Milliseconds(50);

// What the access log line of one call says.
struct CallRecord {
  std::string method;
  std::string account;
  std::string action;
  absl::Time start;
  std::string upstream_request_id;
};

void FinishCall(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                const CallRecord& record, const Clock& clock, const absl::Status& status) {
  if (!record.upstream_request_id.empty()) {
    context->AddTrailingMetadata(kUpstreamRequestIdTrailer, record.upstream_request_id);
  }
  Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning, status.ok() ? "ok" : status.message(),
      {{"method", record.method},
       {"grpc_code", StatusCodeName(status.code())},
       {"duration_ms", absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(clock.Now() -
                                                                          record.start))},
       {"account", record.account.empty() ? "default" : record.account},
       {"action", record.action},
       {"upstream_request_id", record.upstream_request_id},
       {"attempt", record.action.empty() ? "0" : "1"}});
  reactor->Finish(ToGrpcStatus(status));
}

absl::Status AccountNotFound(absl::string_view account) {
  // Names only what the caller asked for, never the configured profiles.
  return absl::NotFoundError(absl::StrCat("account \"", account, "\" is not configured"));
}

}  // namespace

std::string NewNonce() {
  thread_local absl::BitGen gen;
  const uint64_t hi = absl::Uniform<uint64_t>(gen);
  const uint64_t lo = absl::Uniform<uint64_t>(gen);
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFF,
                         ((lo >> 48) & 0x3FFF) | 0x8000, lo & 0xFFFFFFFFFFFF);
}

OtaVerifyService::OtaVerifyService(Options options, CredentialsProvider* credentials,
                                   HttpTransport* transport, const Clock* clock)
    : options_(std::move(options)),
      credentials_(credentials),
      transport_(transport),
      clock_(clock) {}

grpc::ServerUnaryReactor* OtaVerifyService::CreateVerifyJob(
    grpc::CallbackServerContext* context, const v1::CreateVerifyJobRequest* request,
    v1::CreateVerifyJobResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time now = clock_->Now();
  CallRecord record{"CreateVerifyJob", request->account(), "", now, ""};

  if (absl::Status valid = ValidateCreateVerifyJob(*request); !valid.ok()) {
    FinishCall(context, reactor, record, *clock_, valid);
    return reactor;
  }
  if (!request->account().empty() && request->account() != "default") {
    FinishCall(context, reactor, record, *clock_, AccountNotFound(request->account()));
    return reactor;
  }

  absl::Duration budget = options_.max_attempt_time;
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    budget = std::min(budget, absl::FromChrono(context->deadline()) - now - kDeadlineReserve);
  }
  if (budget <= absl::ZeroDuration()) {
    FinishCall(context, reactor, record, *clock_,
               absl::DeadlineExceededError("deadline too short to reach the upstream"));
    return reactor;
  }

  absl::StatusOr<std::shared_ptr<const Credentials>> credentials = credentials_->Get(now);
  if (!credentials.ok()) {
    Log(LogLevel::kError, "no usable credentials",
        {{"error", std::string(credentials.status().message())}});
    FinishCall(context, reactor, record, *clock_,
               absl::UnavailableError("the gateway has no usable credentials"));
    return reactor;
  }

  record.action = kCreateOTAVerifyJob;
  RpcCall call = CreateVerifyJobCall(*request);
  SignedRequest signed_request = SignRpcCall(call, **credentials, options_.endpoint,
                                             options_.signature_version, now, NewNonce());
  signed_request.request.timeout = budget;
  HttpRequest http = std::move(signed_request.request);
  transport_->Send(
      std::move(http),
      [this, context, reactor, response, record = std::move(record), call = std::move(call),
       string_to_sign = std::move(signed_request.string_to_sign),
       credentials = *std::move(credentials)](absl::StatusOr<HttpResponse> http_response) mutable {
        if (!http_response.ok()) {
          FinishCall(context, reactor, record, *clock_,
                     MapTransportFailure(http_response.status(), record.action,
                                         /*idempotent=*/false));
          return;
        }
        UpstreamReply reply = ReadUpstreamReply(*http_response, record.action);
        if (!reply.status.ok()) {
          // The upstream may echo what was signed (a V1 string-to-sign holds the token).
          http_response->body = RedactSecrets(std::move(http_response->body), *credentials);
          reply = ReadUpstreamReply(*http_response, record.action);
        }
        if (reply.code == "SignatureDoesNotMatch") {
          mismatch_log_.Report(call, options_.signature_version, string_to_sign, reply.message,
                               reply.request_id, *credentials);
        }
        record.upstream_request_id = reply.request_id;
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
        FinishCall(context, reactor, record, *clock_, status);
      });
  return reactor;
}

}  // namespace otaverify

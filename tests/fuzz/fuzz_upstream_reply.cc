// Fuzz target: every reader of an upstream answer. The first byte picks the reader; the rest is
// the answer body (after a two-byte HTTP status for the readers that take one).
//
//   0 ReadUpstreamReply          (error_mapping.h)        6 ParseEcsRamRoleCredentials
//   1 ParseCreateVerifyJobResponse (create_verify_job.h)  7 ReadStsAnswer
//   2 ParseFirmwareVerification  (verify_workflow.h)      8 ParseExpiration
//   3 ParseVerifyJob                                      9 ParseUpstreamTime
//   4 ParseTaskPage                                      10 ClassifyUpstreamError
//   5 ParseFirmwareJobPage                                  (credential_answer.h: 6–8)
//
// Properties beyond "no crash": each reader fails only with the codes its header documents;
// a success carries what the header promises (a job id, complete credentials, one item per
// appended entry); an upstream answer never gets the signing secret or the security token
// into a status (raw, or percent-encoded once or twice) — the corpus and the dictionary hold
// them, so the fuzzer can echo them in every field; times that parse format back to
// themselves.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aliyun/credentials/v1/credentials.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/rpc/error_details.pb.h"
#include "service/aliyun/create_verify_job.h"
#include "service/aliyun/error_mapping.h"
#include "service/aliyun/signer.h"
#include "service/aliyun/verify_workflow.h"
#include "service/credentials/credential_answer.h"
#include "service/status/rich_status.h"
#include "tests/fuzz/require.h"

namespace otaverify {
namespace {

// The credentials the gateway signed with; corpus/upstream_reply and upstream_reply.dict hold
// the same strings.
constexpr char kSecret[] = "FuzzSecretKey0123456789abcdef";
constexpr char kToken[] = "FuzzToken/Session+Value=";

// Whether `text` holds a secret as the redaction contract names it: raw or percent-encoded
// once or twice.
bool LeaksSecret(absl::string_view text) {
  for (absl::string_view secret : {absl::string_view(kSecret), absl::string_view(kToken)}) {
    const std::string once = PercentEncode(secret);
    const std::string twice = PercentEncode(once);
    if (absl::StrContains(text, secret) || absl::StrContains(text, once) ||
        absl::StrContains(text, twice)) {
      return true;
    }
  }
  return false;
}

void CheckReadUpstreamReply(int http_status, bool idempotent, absl::string_view body) {
  Credentials credentials;
  credentials.access_key_id = "FuzzKeyId";
  credentials.access_key_secret = kSecret;
  credentials.security_token = kToken;
  HttpResponse response;
  response.status = http_status;
  response.body = std::string(body);
  ReplyContext context;
  context.action = "CreateOTAVerifyJob";
  context.idempotent = idempotent;
  context.credentials = &credentials;
  const UpstreamReply reply = ReadUpstreamReply(response, context);

  if (reply.status.ok()) {
    Require(http_status >= 200 && http_status < 300, "a success is an HTTP 2xx");
    Require(reply.code.empty(), "a success has no upstream Code");
    Require(!reply.retryable && !reply.outcome_unknown && !reply.upstream_unhealthy,
            "a success is neither retryable, unknown nor unhealthy");
    return;
  }
  const absl::optional<google::rpc::ErrorInfo> info =
      GetDetail<google::rpc::ErrorInfo>(reply.status);
  Require(info.has_value() && !info->reason().empty(), "every failure has an ErrorInfo reason");
  Require(!reply.retryable || GetDetail<google::rpc::RetryInfo>(reply.status).has_value(),
          "a retryable failure has a RetryInfo");
  if (http_status >= 500) Require(reply.upstream_unhealthy, "HTTP 5xx is unhealthy");
  if (reply.upstream_unhealthy && !idempotent) {
    Require(reply.outcome_unknown, "an unhealthy answer to a create leaves its outcome unknown");
  }
  Require(!LeaksSecret(reply.status.message()), "no secret in the status message");
  Require(!LeaksSecret(reply.message), "no secret in the reply's message");
  for (const auto& [key, value] : info->metadata()) {
    Require(!LeaksSecret(value), "no secret in the ErrorInfo metadata");
  }
}

// google.protobuf.Timestamp's documented range: 0001-01-01 to 9999-12-31, nanos in [0, 1e9).
bool ValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= -62135596800 && t.seconds() <= 253402300799 && t.nanos() >= 0 &&
         t.nanos() <= 999999999;
}

void CheckCredentials(const Credentials& c) {
  Require(!c.access_key_id.empty() && !c.access_key_secret.empty() &&
              !c.security_token.empty() && c.source == "fuzz",
          "parsed credentials are complete");
}

void CheckTime(absl::Time t, absl::string_view what) {
  // Whatever parsed formats back to the same instant.
  const std::string text = absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
  absl::StatusOr<absl::Time> again = ParseExpiration(text);
  Require(again.ok() && *again == t, "ParseExpiration reads back FormatTime's output");
  (void)what;
}

}  // namespace
}  // namespace otaverify

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace otaverify;  // NOLINT: a fuzz entry point
  if (size < 3) return 0;
  const int reader = data[0] % 11;
  // A status in [0, 65535]: 0, 1xx, 999 and the like happen on a broken proxy.
  const int http_status = data[1] << 8 | data[2];
  const bool flag = (data[1] & 0x80) != 0;
  const absl::string_view body(reinterpret_cast<const char*>(data + 3), size - 3);
  const absl::string_view whole(reinterpret_cast<const char*>(data + 1), size - 1);

  switch (reader) {
    case 0:
      CheckReadUpstreamReply(http_status, flag, body);
      break;
    case 1: {
      auto parsed = ParseCreateVerifyJobResponse(whole);
      if (parsed.ok()) {
        Require(!parsed->job_id().empty(), "a created job has an id");
      } else {
        Require(parsed.status().code() == absl::StatusCode::kInternal,
                "an unreadable create answer is INTERNAL");
      }
      break;
    }
    case 2: {
      auto parsed = ParseFirmwareVerification(whole);
      if (parsed.ok()) {
        Require(parsed->progress_percent() >= 0 && parsed->progress_percent() <= 100,
                "verification progress is a percentage");
      } else {
        Require(parsed.status().code() == absl::StatusCode::kInternal,
                "an unreadable firmware answer is INTERNAL");
      }
      break;
    }
    case 3: {
      auto parsed = ParseVerifyJob(whole);
      if (parsed.ok()) {
        Require(!parsed->job_id().empty(), "a job has an id");
        for (const auto* t : {&parsed->create_time(), &parsed->modify_time(),
                              &parsed->start_time(), &parsed->end_time()}) {
          Require(ValidTimestamp(*t), "times are valid");
        }
      } else {
        Require(parsed.status().code() == absl::StatusCode::kInternal ||
                    parsed.status().code() == absl::StatusCode::kFailedPrecondition,
                "an unreadable job answer is INTERNAL (or not a verify job)");
      }
      break;
    }
    case 4: {
      v1::VerifyJob job;
      job.add_tasks()->set_task_id("already-read");
      auto page = ParseTaskPage(whole, &job);
      if (page.ok()) {
        Require(page->items >= 0 && job.tasks_size() == 1 + page->items,
                "a task page appends one task per item");
        for (const v1::DeviceTask& task : job.tasks()) {
          Require(task.progress_percent() >= 0 && task.progress_percent() <= 100,
                  "task progress is a percentage");
        }
      } else {
        Require(page.status().code() == absl::StatusCode::kInternal,
                "an unreadable task page is INTERNAL");
      }
      break;
    }
    case 5: {
      std::vector<FirmwareJob> jobs(1);
      auto page = ParseFirmwareJobPage(whole, &jobs);
      if (page.ok()) {
        Require(page->items >= 0 && jobs.size() == 1 + static_cast<size_t>(page->items),
                "a job page appends one job per item");
        if (auto newest = NewestVerifyJob(jobs)) {
          Require(newest->verify && !newest->job_id.empty(), "the newest verify job is one");
        }
        if (auto active = ActiveVerifyJob(jobs)) {
          Require(active->state == v1::VERIFY_JOB_STATE_PLANNED ||
                      active->state == v1::VERIFY_JOB_STATE_IN_PROGRESS,
                  "the active verify job is planned or in progress");
        }
      } else {
        Require(page.status().code() == absl::StatusCode::kInternal,
                "an unreadable job page is INTERNAL");
      }
      break;
    }
    case 6: {
      auto parsed = ParseEcsRamRoleCredentials(whole, "fuzz");
      if (parsed.ok()) {
        CheckCredentials(*parsed);
        CheckTime(parsed->expiration, "Expiration");
      } else {
        Require(parsed.status().code() == absl::StatusCode::kInvalidArgument ||
                    parsed.status().code() == absl::StatusCode::kUnavailable,
                "an IMDS answer fails as INVALID_ARGUMENT or UNAVAILABLE");
      }
      break;
    }
    case 7: {
      HttpResponse response;
      response.status = http_status;
      response.body = std::string(body);
      auto parsed = ReadStsAnswer(response, "AssumeRole", "fuzz", {kSecret, kToken});
      const std::string code = StsErrorCode(response);
      if (parsed.ok()) {
        Require(http_status >= 200 && http_status < 300, "STS credentials come with HTTP 2xx");
        CheckCredentials(*parsed);
      } else {
        const absl::StatusCode c = parsed.status().code();
        Require(c == absl::StatusCode::kUnavailable || c == absl::StatusCode::kFailedPrecondition ||
                    c == absl::StatusCode::kPermissionDenied ||
                    c == absl::StatusCode::kInvalidArgument,
                "an STS failure has a documented code");
        // The contract redacts the echoed Message; Code and RequestId are quoted as sent.
        aliyun::credentials::v1::StsResponse answer;
        google::protobuf::util::JsonParseOptions options;
        options.ignore_unknown_fields = true;
        const bool json =
            google::protobuf::util::JsonStringToMessage(response.body, &answer, options).ok();
        // A 2xx answer without a Code is read as credentials, whose errors quote the
        // Expiration (not secret); only an error answer's Message is echoed.
        const bool credentials_answer =
            http_status >= 200 && http_status < 300 && json && answer.code().empty();
        if (!credentials_answer && !LeaksSecret(answer.code()) &&
            !LeaksSecret(answer.request_id())) {
          Require(!LeaksSecret(parsed.status().message()),
                  "no secret from the STS Message in the status");
        }
        Require(code == answer.code(), "StsErrorCode reads the answer's Code");
      }
      break;
    }
    case 8: {
      auto parsed = ParseExpiration(whole);
      if (parsed.ok()) {
        CheckTime(*parsed, "Expiration");
      } else {
        Require(parsed.status().code() == absl::StatusCode::kInvalidArgument,
                "a bad Expiration is INVALID_ARGUMENT");
      }
      break;
    }
    case 9: {
      google::protobuf::Timestamp t;
      if (ParseUpstreamTime(whole, &t)) {
        Require(ValidTimestamp(t), "upstream times are valid");
      }
      break;
    }
    case 10: {
      const ErrorClass c = ClassifyUpstreamError(http_status, body);
      Require(c.code != absl::StatusCode::kOk && !c.reason.empty(),
              "every upstream error maps to a failure with a reason");
      break;
    }
  }
  return 0;
}

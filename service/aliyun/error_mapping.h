// Upstream failures → gRPC status codes (protocol.md §8).
//
// Code-first: Aliyun sends Throttling with HTTP 400 and business errors with HTTP 200, so the
// upstream Code decides and the HTTP status only breaks ties for codes nobody documented.
// Signature, AccessKey, token and clock problems are the gateway's own fault (INTERNAL), never
// UNAUTHENTICATED: the caller cannot fix them. Pure functions; thread-safe.
#ifndef OTAVERIFY_SERVICE_ALIYUN_ERROR_MAPPING_H_
#define OTAVERIFY_SERVICE_ALIYUN_ERROR_MAPPING_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/credentials/credentials.h"
#include "service/transport/http_transport.h"

namespace otaverify {

struct ErrorClass {
  absl::StatusCode code;
  // Stable UPPER_SNAKE name for google.rpc.ErrorInfo.reason.
  std::string reason;
  // Whether the same call, freshly signed, may succeed (protocol.md §8 "Retry only").
  bool retryable = false;
};

// Maps an upstream error Code (gateway or business layer) and the HTTP status it came with.
// Unknown iot.* codes map by family (NotExist → NOT_FOUND, Invalid → INVALID_ARGUMENT, ...);
// unknown other codes by HTTP status. Never fails.
ErrorClass ClassifyUpstreamError(int http_status, absl::string_view code);

// How to read one upstream answer.
struct ReplyContext {
  absl::string_view action;
  // Whether the action may be re-sent blindly. For a create, an answer or failure that leaves
  // open whether the request was processed is UNKNOWN (UPSTREAM_OUTCOME_UNKNOWN), never a
  // plain "retry".
  bool idempotent = false;
  // When set, its secret and token are redacted from every upstream text (an upstream may
  // echo what was signed: a V1 string to sign holds the token).
  const Credentials* credentials = nullptr;
};

// What an upstream answer said, read tolerantly from JSON (or an XML <Error> body).
struct UpstreamReply {
  std::string request_id;
  std::string code;
  std::string message;
  // The same call, freshly signed, may succeed (throttling, 5xx, system errors).
  bool retryable = false;
  // The upstream itself is unwell (HTTP 5xx, ServiceUnavailable, InternalError,
  // iot.system.SystemException): what a circuit breaker counts. Throttling is not.
  bool upstream_unhealthy = false;
  // The request may or may not have been processed (a create must be reconciled): a malformed
  // 2xx, and for a non-idempotent action also SignatureNonceUsed and server-side failures.
  bool outcome_unknown = false;
  // OK when the answer is a success (HTTP 2xx and Success not false); otherwise the mapped
  // error with a google.rpc.ErrorInfo (metadata: action, http_status, upstream_code,
  // upstream_message, upstream_request_id) and RetryInfo when retryable.
  absl::Status status;
};
UpstreamReply ReadUpstreamReply(const HttpResponse& response, const ReplyContext& context);

// A transport failure (see http_transport.h) as the caller should see it.
absl::Status MapTransportFailure(const absl::Status& failure, const ReplyContext& context);

// An error of the gateway's own making with its ErrorInfo (reason, domain, action, and
// `metadata`).
absl::Status GatewayError(
    absl::StatusCode code, absl::string_view message, absl::string_view reason,
    absl::string_view action,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>> metadata = {});

// Adds a google.rpc.RetryInfo telling the caller when to try again.
void AddRetryInfo(absl::Status& status, absl::Duration delay);

// What a request named, for the details of its failure.
struct ResourceNames {
  std::string product_key;
  std::string firmware_id;
  std::string iot_instance_id;
  std::string job_id;
};

// Adds what a caller needs to act on a failed call: a google.rpc.ResourceInfo naming the
// product, firmware, verify job, device or IoT instance that was not found, or a
// google.rpc.PreconditionFailure for a firmware whose verification state forbids a new job.
// Keyed on the status's ErrorInfo reason; a no-op for other errors.
void AddResourceDetails(absl::Status& status, const ResourceNames& names);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_ALIYUN_ERROR_MAPPING_H_

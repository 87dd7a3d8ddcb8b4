// CreateOTAVerifyJob: the rules a request must obey, its flattening into upstream parameters,
// and the reading of the upstream answer (protocol.md §2, §6).
//
// Pure functions; thread-safe.
#ifndef OTAVERIFY_SERVICE_ALIYUN_CREATE_VERIFY_JOB_H_
#define OTAVERIFY_SERVICE_ALIYUN_CREATE_VERIFY_JOB_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "otaverify/v1/ota_verify.pb.h"
#include "service/aliyun/rpc_request.h"
#include "service/transport/http_transport.h"

namespace otaverify {

inline constexpr char kCreateOTAVerifyJob[] = "CreateOTAVerifyJob";

// OK, or INVALID_ARGUMENT with a google.rpc.BadRequest listing every violated field (proto
// field paths such as "target_device_names[3]" and "tags[0].key") and an ErrorInfo with reason
// INVALID_REQUEST.
absl::Status ValidateCreateVerifyJob(const v1::CreateVerifyJobRequest& request);

// The upstream parameters of a valid request: lists 1-based and dense, booleans true/false,
// unset optional fields omitted (never an empty value).
RpcCall CreateVerifyJobCall(const v1::CreateVerifyJobRequest& request);

// Reads a successful (HTTP 2xx, Success not false) upstream JSON body. A body without JobId or
// with an unreadable UtcCreate is INTERNAL naming what is wrong.
absl::StatusOr<v1::CreateVerifyJobResponse> ParseCreateVerifyJobResponse(absl::string_view body);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_ALIYUN_CREATE_VERIFY_JOB_H_

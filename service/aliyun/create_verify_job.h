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

// Adds what a caller needs to act on a failed create: a google.rpc.ResourceInfo naming the
// product, firmware, device or IoT instance that was not found, or a
// google.rpc.PreconditionFailure for a firmware whose verification state forbids a new job.
// Keyed on the status's ErrorInfo reason; a no-op for other errors.
void AddCreateErrorDetails(absl::Status& status, absl::string_view product_key,
                           absl::string_view firmware_id, absl::string_view iot_instance_id);

// Reconciliation after a create whose outcome is unknown (protocol.md §6): the upstream has no
// client token, so whether the job exists is read back from the firmware's jobs.
RpcCall ListVerifyJobsCall(const std::string& firmware_id, const std::string& iot_instance_id);
RpcCall QueryFirmwareCall(const std::string& firmware_id, const std::string& iot_instance_id);

// The newest verification job (JobType VERFIY_FIRMWARE, or VERIFY_FIRMWARE) in a
// ListOTAJobByFirmware answer created at or after `since`; nullopt when there is none.
absl::StatusOr<absl::optional<v1::CreateVerifyJobResponse>> FindVerifyJobCreatedSince(
    absl::string_view body, absl::Time since);

// QueryOTAFirmware's verification Status: -1 not required, 0 not verified, 1 verified,
// 2 verifying, 3 failed.
absl::StatusOr<int> ParseFirmwareVerifyStatus(absl::string_view body);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_ALIYUN_CREATE_VERIFY_JOB_H_

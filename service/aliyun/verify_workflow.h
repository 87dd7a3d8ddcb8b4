// The verification workflow's upstream calls besides the create (protocol.md §7): firmware
// state (QueryOTAFirmware), the firmware's jobs (ListOTAJobByFirmware), a job and its device
// tasks (QueryOTAJob, ListOTATaskByJob) and cancellation (CancelOTATaskByJob) — the rules their
// requests obey, their parameters, and the reading of their answers into the public types.
//
// Answers are read tolerantly: unknown keys, nulls and numbers sent as strings are accepted;
// unknown enum spellings become *_UNSPECIFIED with the upstream text kept beside them. An answer
// that is not the documented JSON at all is INTERNAL naming the action.
//
// Pure functions; thread-safe.
#ifndef OTAVERIFY_SERVICE_ALIYUN_VERIFY_WORKFLOW_H_
#define OTAVERIFY_SERVICE_ALIYUN_VERIFY_WORKFLOW_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "google/protobuf/timestamp.pb.h"
#include "otaverify/v1/ota_verify.pb.h"
#include "service/aliyun/rpc_request.h"

namespace otaverify {

inline constexpr char kQueryOTAFirmware[] = "QueryOTAFirmware";
inline constexpr char kListOTAJobByFirmware[] = "ListOTAJobByFirmware";
inline constexpr char kQueryOTAJob[] = "QueryOTAJob";
inline constexpr char kListOTATaskByJob[] = "ListOTATaskByJob";
inline constexpr char kCancelOTATaskByJob[] = "CancelOTATaskByJob";

// Largest pages the upstream serves (protocol.md §7); the gateway always asks for these and
// follows whatever page size the upstream actually answers with.
inline constexpr int kJobPageSize = 200;
inline constexpr int kTaskPageSize = 100;

// --- Validation: OK, or INVALID_ARGUMENT with a BadRequest naming each field. ---

absl::Status ValidateGetFirmwareVerification(const v1::GetFirmwareVerificationRequest& request);
// For GetVerifyJob and WatchVerifyJob: job_id required, ids at most 64 characters.
absl::Status ValidateJobReference(absl::string_view job_id, absl::string_view iot_instance_id,
                                  absl::string_view action);
// task_states: only AWAITING_CONFIRMATION, QUEUED, NOTIFIED, IN_PROGRESS, each at most once.
absl::Status ValidateCancelVerifyJob(const v1::CancelVerifyJobRequest& request);

// --- Upstream parameters (IotInstanceId only when not empty). ---

RpcCall QueryFirmwareCall(const std::string& firmware_id, const std::string& iot_instance_id);
RpcCall ListJobsByFirmwareCall(const std::string& firmware_id, const std::string& iot_instance_id,
                               int page);
RpcCall QueryJobCall(const std::string& job_id, const std::string& iot_instance_id);
RpcCall ListTasksByJobCall(const std::string& job_id, const std::string& iot_instance_id, int page);
// The states whose tasks a cancel request cancels: its own, or every unfinished one.
std::vector<v1::TaskState> StatesToCancel(const v1::CancelVerifyJobRequest& request);
// One Cancel*Task flag per state, all sent (true or false), so at least one is true.
RpcCall CancelTasksCall(const std::string& job_id, const std::string& iot_instance_id,
                        const std::vector<v1::TaskState>& states);

// --- Reading answers. ---

// Where a page of a paged list stands. `items` is how many the page held.
struct PageInfo {
  int items = 0;
  int total = 0;
  int page_count = 0;
};

// Whether another page must be fetched after page `page` (1-based), having collected
// `collected` items so far: the upstream's PageCount (else Total) decides; an empty page ends
// the list. The reader bounds the pages it follows (a list claiming more is an error).
bool NeedAnotherPage(const PageInfo& info, int page, int collected);

// One job of ListOTAJobByFirmware.
struct FirmwareJob {
  std::string job_id;
  bool verify = false;  // JobType VERFIY_FIRMWARE (sic) or VERIFY_FIRMWARE
  v1::VerifyJobState state = v1::VERIFY_JOB_STATE_UNSPECIFIED;
  absl::Time create_time = absl::InfinitePast();  // InfinitePast when unreadable
  std::string request_id;                         // of the page it came in
};
// Appends the page's jobs to `jobs`.
absl::StatusOr<PageInfo> ParseFirmwareJobPage(absl::string_view body,
                                              std::vector<FirmwareJob>* jobs);
// The newest verify job created at or after `since` (InfinitePast: any); nullopt if none.
absl::optional<FirmwareJob> NewestVerifyJob(const std::vector<FirmwareJob>& jobs,
                                            absl::Time since = absl::InfinitePast());
// The verify job in progress (PLANNED or IN_PROGRESS), newest first; nullopt if none.
absl::optional<FirmwareJob> ActiveVerifyJob(const std::vector<FirmwareJob>& jobs);

// QueryOTAFirmware, without the job fields (upstream_request_id set).
absl::StatusOr<v1::FirmwareVerification> ParseFirmwareVerification(absl::string_view body);

// QueryOTAJob, without tasks and without `finished`. A job whose JobType says it is not a
// verify job (an UPGRADE_FIRMWARE job) is FAILED_PRECONDITION NOT_A_VERIFY_JOB: the workflow
// RPCs must never read or cancel a fleet upgrade by mistake. Unreadable: INTERNAL.
absl::StatusOr<v1::VerifyJob> ParseVerifyJob(absl::string_view body);
// Appends the page's tasks to `job`.
absl::StatusOr<PageInfo> ParseTaskPage(absl::string_view body, v1::VerifyJob* job);
// SUCCEEDED, FAILED or CANCELED: the task will not change any more.
bool TaskEnded(v1::TaskState state);
// CANCELED, or COMPLETED with every task SUCCEEDED, FAILED or CANCELED. A task whose state the
// gateway does not know counts as ended once the job is COMPLETED: nothing could be waited for.
bool VerifyJobFinished(const v1::VerifyJob& job);

v1::VerificationState VerificationStateFromUpstream(int status);
v1::VerifyJobState JobStateFromUpstream(absl::string_view job_status);
v1::TaskState TaskStateFromUpstream(absl::string_view task_status);

// Upstream time text ("2019-11-04T06:22:19.566Z"); false if unreadable or empty.
bool ParseUpstreamTime(absl::string_view text, google::protobuf::Timestamp* out);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_ALIYUN_VERIFY_WORKFLOW_H_

// Reads of the verification workflow that take more than one upstream call: a verify job with
// every page of its tasks, a firmware's state with its newest verify job, and every page of a
// firmware's jobs. Each call goes through the UpstreamCaller (quota, breaker, credentials,
// retries) as an idempotent call; the first failure ends the read with that call's mapped
// status, so a read never answers with half of what it promised.
//
// Paging follows the upstream's own Total/PageCount/PageSize, whatever page size was asked for.
// A list that claims more pages than a fixed bound (20 for tasks, 25 for jobs) fails the read
// (UPSTREAM_MALFORMED_RESPONSE): a misbehaving peer can neither keep the gateway reading nor
// make it answer with part of the list.
//
// Thread-safe. `done` runs exactly once, on whatever thread finished the last upstream call.
#ifndef OTAVERIFY_SERVICE_SERVER_UPSTREAM_READS_H_
#define OTAVERIFY_SERVICE_SERVER_UPSTREAM_READS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "otaverify/v1/ota_verify.pb.h"
#include "service/aliyun/verify_workflow.h"
#include "service/server/upstream_caller.h"

namespace otaverify {

// What the upstream calls of one RPC went through, for its trailers and access log.
struct UpstreamTrace {
  std::vector<std::string> actions;  // each action called, in first-call order
  std::vector<std::string> request_ids;
  int attempts = 0;
  TransferInfo transfer;  // of the last attempt that got an answer

  void Add(absl::string_view action, const UpstreamResult& result);
  void Add(const UpstreamTrace& other);
};

// Where the reads of one RPC go and how long they may take.
struct ReadContext {
  UpstreamCaller* upstream = nullptr;
  const Profile* profile = nullptr;
  std::string iot_instance_id;  // empty: not sent
  absl::Time deadline = absl::InfinitePast();
  std::shared_ptr<CallCancellation> cancellation;
};

template <typename T>
using ReadDone = absl::AnyInvocable<void(absl::StatusOr<T> result, UpstreamTrace trace) &&>;

// QueryOTAJob, then ListOTATaskByJob page by page; `finished` is set from the whole.
void ReadVerifyJob(ReadContext context, std::string job_id, ReadDone<v1::VerifyJob> done);
// Its two halves: the job without tasks (QueryOTAJob), and only the tasks (ListOTATaskByJob,
// every page) in an otherwise empty VerifyJob. Neither sets `finished`.
void ReadJobHeader(ReadContext context, std::string job_id, ReadDone<v1::VerifyJob> done);
void ReadJobTasks(ReadContext context, std::string job_id, ReadDone<v1::VerifyJob> done);

// Every job of a firmware (ListOTAJobByFirmware, all pages).
void ReadFirmwareJobs(ReadContext context, std::string firmware_id,
                      ReadDone<std::vector<FirmwareJob>> done);

// QueryOTAFirmware, then (unless verification is not required) the firmware's jobs for its
// newest verify job: the active one if any, else the newest.
void ReadFirmwareVerification(ReadContext context, std::string firmware_id,
                              ReadDone<v1::FirmwareVerification> done);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_UPSTREAM_READS_H_

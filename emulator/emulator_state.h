// EmulatorState: the emulated IoT platform's mutable world — products, devices and their
// simulated behaviours, firmware verification status and verify jobs with one task per device
// — seeded from a Seed and restorable to it.
//
// Nothing runs in the background: a job's tasks are computed from their plans and the time of
// the read (device_simulation.h), and a firmware package being verified takes its Status and
// VerifyProgress from its verify job at that time. The RPC-facing methods take that time as
// `now`; the convenience accessors for tests read the clock given at construction.
//
// Thread-safe: every member is guarded by one absl::Mutex; methods never call out while
// holding it.
#ifndef OTAVERIFY_EMULATOR_EMULATOR_STATE_H_
#define OTAVERIFY_EMULATOR_EMULATOR_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "emulator/api_error.h"
#include "emulator/create_verify_job.h"
#include "emulator/device_simulation.h"
#include "emulator/seed.pb.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {

// Firmware Status values of QueryOTAFirmware (protocol.md §7).
inline constexpr int kFirmwareVerifyNotRequired = -1;
inline constexpr int kFirmwareNotVerified = 0;
inline constexpr int kFirmwareVerified = 1;
inline constexpr int kFirmwareVerifying = 2;
inline constexpr int kFirmwareVerifyFailed = 3;

// JobStatus values a verify job goes through (protocol.md §7; a verify job starts at once, so
// it is never PLANNED).
inline constexpr char kJobInProgress[] = "IN_PROGRESS";
inline constexpr char kJobCompleted[] = "COMPLETED";
inline constexpr char kJobCanceled[] = "CANCELED";

// A verify job as read at some instant.
struct VerifyJob {
  std::string job_id;
  std::string job_type = "VERFIY_FIRMWARE";  // sic: the API's spelling (protocol.md §7)
  // IN_PROGRESS until every task is SUCCEEDED, FAILED or CANCELED; then CANCELED if a
  // CancelOTATaskByJob call canceled any of them, else COMPLETED.
  std::string job_status = kJobInProgress;
  VerifyJobSpec spec;
  std::string src_version;  // the package's; may be empty (left out of answers)
  std::string dest_version;
  absl::Time utc_create;  // also UtcStartTime: a verify job starts when it is created
  // The last change of the job: creation, a cancel that canceled a task, the end.
  absl::Time utc_modified;
  std::optional<absl::Time> utc_end;  // when the last task finished
  int64_t sequence = 0;               // creation order, for newest-first listings at equal times
};

// One device's task of a verify job, as read at some instant.
struct OtaTask {
  std::string task_id;  // stable for the job's lifetime
  std::string device_name;
  std::string iot_id;
  TaskState state;
  absl::Time utc_create;
};

// CancelOTATaskByJob's options: which task states to cancel (protocol.md §7).
struct CancelFlags {
  bool scheduled = false;    // verify jobs are never scheduled: cancels nothing
  bool queued = false;       // QUEUED
  bool in_progress = false;  // IN_PROGRESS
  bool notified = false;     // NOTIFIED
  bool unconfirmed = false;  // CONFIRM

  bool Any() const { return scheduled || queued || in_progress || notified || unconfirmed; }
};

// QueryOTAFirmware's view of one package (protocol.md §7).
struct FirmwareInfo {
  std::string firmware_id;
  std::string firmware_name;
  std::string src_version;  // may be empty (left out of the answer)
  std::string dest_version;
  std::string product_key;
  int status = kFirmwareNotVerified;
  // 0..100: while verifying the mean progress of the job's tasks; 100 once verified or failed.
  int verify_progress = 0;
  absl::Time utc_create;
  absl::Time utc_modified;  // the last status change
};

// When seeded packages were "created".
inline constexpr absl::Time SeedFirmwareCreated() {
  return absl::FromUnixSeconds(1704067200);  // 2024-01-01T00:00:00Z
}

class EmulatorState {
 public:
  // REQUIRES: ValidateSeed(seed).ok(), ValidateSimulationSettings(simulation).ok(); `clock`
  // outlives the state.
  EmulatorState(Seed seed, SimulationSettings simulation, const Clock* clock);

  EmulatorState(const EmulatorState&) = delete;
  EmulatorState& operator=(const EmulatorState&) = delete;

  // Back to the seed: statuses restored, jobs forgotten.
  void Reset();

  // Applies the stateful rules of CreateOTAVerifyJob (instance, product, firmware, devices,
  // firmware status) and, on success, records the job as `job_id` — one task per device, in
  // the order named — and makes it drive the package's verification. Returns the
  // business-layer error otherwise.
  std::optional<ApiError> CreateVerifyJob(const VerifyJobSpec& spec, absl::Time now,
                                          const std::string& job_id, VerifyJob* job);

  // QueryOTAFirmware: the package `firmware_id` as seen from instance `iot_instance_id` (empty:
  // the old public instance) at `now`. iot.Sre.IotInstanceNotFound for an unknown instance;
  // iot.ota.NotExistedFirmware for an unknown package or one whose product lives elsewhere.
  std::optional<ApiError> QueryFirmware(const std::string& firmware_id,
                                        const std::string& iot_instance_id, absl::Time now,
                                        FirmwareInfo* info) const;
  // ListOTAJobByFirmware: every job of the package at `now`, newest first; errors as
  // QueryFirmware.
  std::optional<ApiError> ListJobsByFirmware(const std::string& firmware_id,
                                             const std::string& iot_instance_id, absl::Time now,
                                             std::vector<VerifyJob>* jobs) const;

  // QueryOTAJob: the job at `now`. iot.Sre.IotInstanceNotFound for an unknown instance;
  // iot.ota.NotExistedJob for an unknown job or one whose product lives on another instance.
  std::optional<ApiError> QueryJob(const std::string& job_id, const std::string& iot_instance_id,
                                   absl::Time now, VerifyJob* job) const;
  // ListOTATaskByJob: the job and all its tasks, in its devices' order, at `now`; errors as
  // QueryJob.
  std::optional<ApiError> ListTasks(const std::string& job_id, const std::string& iot_instance_id,
                                    absl::Time now, VerifyJob* job,
                                    std::vector<OtaTask>* tasks) const;
  // CancelOTATaskByJob: every task of the job that is, at `now`, in a state `flags` names
  // becomes CANCELED, its progress frozen; `canceled` (may be null) gets how many. Finished
  // tasks never change, so canceling a finished job changes nothing. Errors as QueryJob.
  std::optional<ApiError> CancelTasks(const std::string& job_id, const std::string& iot_instance_id,
                                      const CancelFlags& flags, absl::Time now, int* canceled);

  // The package's Status at the clock's now.
  std::optional<int> FirmwareStatus(const std::string& product_key,
                                    const std::string& firmware_id) const;
  // Sets a package's status at `now`, by hand: the package stops following its verify job
  // (which runs on). False if there is no such package.
  bool SetFirmwareStatus(const std::string& product_key, const std::string& firmware_id, int status,
                         absl::Time now);
  // The job at the clock's now.
  std::optional<VerifyJob> FindJob(const std::string& job_id) const;
  size_t JobCount() const;

 private:
  struct FirmwareRecord {
    FirmwareInfo info;   // status: the seeded or hand-set one, used while job_id is empty
    std::string job_id;  // the verify job whose outcome is the package's status; may be empty
  };
  struct Product {
    std::string iot_instance_id;
    std::set<std::string> devices;
    std::map<std::string, DeviceBehavior> behaviors;  // devices not listed succeed
    std::map<std::string, FirmwareRecord> firmwares;  // by firmware id
  };
  struct TaskRecord {
    std::string task_id;
    std::string device_name;
    std::string iot_id;
    TaskPlan plan;
    std::optional<TaskState> canceled;  // frozen by the cancel that stopped it
  };
  struct JobRecord {
    VerifyJob job;  // the fields fixed at creation
    std::vector<TaskRecord> tasks;
    std::optional<absl::Time> last_cancel;  // the last cancel that canceled a task
  };

  void LoadSeedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The package as seen from `iot_instance_id`, or the error QueryFirmware documents.
  std::optional<ApiError> FindFirmwareLocked(const std::string& firmware_id,
                                             const std::string& iot_instance_id,
                                             const FirmwareRecord** record) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The job as seen from `iot_instance_id`, or the error QueryJob documents.
  std::optional<ApiError> FindJobLocked(const std::string& job_id,
                                        const std::string& iot_instance_id,
                                        const JobRecord** record) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  TaskState TaskAt(const TaskRecord& task, absl::Time now) const;
  VerifyJob JobAtLocked(const JobRecord& record, absl::Time now) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  FirmwareInfo FirmwareAtLocked(const FirmwareRecord& record, absl::Time now) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Seed seed_;
  const SimulationSettings simulation_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  std::set<std::string> instances_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Product> products_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, JobRecord> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> firmware_products_ ABSL_GUARDED_BY(mu_);  // id -> product
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_EMULATOR_STATE_H_

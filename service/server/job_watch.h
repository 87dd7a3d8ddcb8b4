// JobWatchHub: follows verify jobs for any number of watchers at the cost of one.
//
// All watchers of the same job (same account, IoT instance and job id) share one poller. The
// poller reads the job's tasks (ListOTATaskByJob, all pages) every poll interval, and the job
// itself (QueryOTAJob) only when the tasks changed, once they all ended, and every 15th poll
// otherwise — so a quiet job costs one call per interval. Polls go through the UpstreamCaller
// like any other call: paced within the account's quota, retried and counted like the rest. A
// watcher gets the job at once when the poller already has it, then every change; the watch ends OK
// right after the job that is `finished`. A poll that fails after its retries is passed on
// (OnPollFailed) and polling goes on; a failure polling cannot cure (the job does not exist, bad
// request, permissions, precondition) ends every watch of the job with that status. The last
// watcher to leave stops the poller and aborts its poll in flight.
//
// Thread-safe. Watcher callbacks run on scheduler or transport threads, never under the hub's
// lock, and must not block. Everything passed to the constructor must outlive the hub; call
// Shutdown() before the scheduler drains (main does).
#ifndef OTAVERIFY_SERVICE_SERVER_JOB_WATCH_H_
#define OTAVERIFY_SERVICE_SERVER_JOB_WATCH_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "otaverify/v1/ota_verify.pb.h"
#include "service/common/clock.h"
#include "service/resilience/scheduler.h"
#include "service/server/upstream_caller.h"
#include "service/server/upstream_reads.h"
#include "service/transport/http_transport.h"

namespace otaverify {

class JobWatcher {
 public:
  virtual ~JobWatcher() = default;
  // The job as it is now: the first time, then after each change. `version` grows with each
  // change; deliveries from different threads may cross, so a watcher drops a version not
  // newer than the last it passed on.
  virtual void OnJob(const v1::VerifyJob& job, int64_t version) = 0;
  // A poll failed even after its retries; polling goes on.
  virtual void OnPollFailed(const absl::Status& status) = 0;
  // The watch is over: OK after the finished job went to OnJob, else why. Called once, last.
  virtual void OnEnd(const absl::Status& status) = 0;
};

class JobWatchHub {
 public:
  struct Options {
    absl::Duration poll_interval = absl::Seconds(2);
    // Budget of one poll: its upstream calls, quota waits and retries together.
    absl::Duration poll_timeout = absl::Seconds(4);
  };

  struct Stats {
    int pollers = 0;
    int watchers = 0;
    int64_t polls = 0;          // started since the hub was built
    int64_t header_reads = 0;   // polls that also read the job itself
    int64_t polls_skipped = 0;  // polls the quota could not take in time
  };

  JobWatchHub(Options options, UpstreamCaller* upstream, HttpTransport* transport,
              Scheduler* scheduler, const Clock* clock);
  ~JobWatchHub();

  JobWatchHub(const JobWatchHub&) = delete;
  JobWatchHub& operator=(const JobWatchHub&) = delete;

  // Starts following the job for `watcher`. REQUIRES: `watcher` is not watching already.
  void Watch(const Profile* profile, std::string iot_instance_id, std::string job_id,
             std::shared_ptr<JobWatcher> watcher);
  // Stops following for `watcher` (its OnEnd is not called). A no-op once its watch ended.
  void Unwatch(const std::shared_ptr<JobWatcher>& watcher);
  // Ends every watch with `status`, and every later Watch at once. Idempotent.
  void Shutdown(const absl::Status& status);

  Stats GetStats() const;

 private:
  struct Poller;

  void Poll(std::shared_ptr<Poller> poller);
  void OnPolled(std::shared_ptr<Poller> poller, absl::StatusOr<v1::VerifyJob> job);
  // Removes the poller and its watchers' entries. Returns the poll in flight to cancel.
  std::shared_ptr<CallCancellation> StopLocked(Poller& poller) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  UpstreamCaller* const upstream_;
  HttpTransport* const transport_;
  Scheduler* const scheduler_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Poller>> pollers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const JobWatcher*, std::string> watching_ ABSL_GUARDED_BY(mu_);
  absl::optional<absl::Status> shutdown_ ABSL_GUARDED_BY(mu_);
  int64_t polls_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t header_reads_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t polls_skipped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_JOB_WATCH_H_

#include "service/server/job_watch.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/rpc/error_details.pb.h"
#include "service/aliyun/error_mapping.h"
#include "service/aliyun/verify_workflow.h"
#include "service/common/log.h"
#include "service/server/upstream_reads.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

// While a job's tasks stay the same, its own fields are read again every this many polls.
constexpr int kPollsPerHeaderRead = 15;

// Failures the next poll would meet again: they end the watch instead of being reported.
bool PollingCannotCure(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
      return true;
    default:
      return false;
  }
}

// Once every task ended the job itself is about to end: read it each poll. No tasks yet (a job
// still being planned) is not "ended".
bool AllTasksEnded(const v1::VerifyJob& job) {
  return !job.tasks().empty() &&
         std::all_of(job.tasks().begin(), job.tasks().end(),
                     [](const v1::DeviceTask& task) { return TaskEnded(task.state()); });
}

bool SameTasks(const v1::VerifyJob& a, const v1::VerifyJob& b) {
  if (a.tasks_size() != b.tasks_size()) return false;
  for (int i = 0; i < a.tasks_size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(a.tasks(i), b.tasks(i))) return false;
  }
  return true;
}

bool IsRateLimited(const absl::Status& status) {
  const absl::optional<google::rpc::ErrorInfo> info = GetDetail<google::rpc::ErrorInfo>(status);
  return info.has_value() && info->reason() == "GATEWAY_RATE_LIMITED";
}

}  // namespace

struct JobWatchHub::Poller {
  std::string key;
  const Profile* profile = nullptr;
  std::string iot_instance_id;
  std::string job_id;
  // Guarded by the hub's mu_.
  std::vector<std::shared_ptr<JobWatcher>> watchers;
  absl::optional<v1::VerifyJob> last;
  int64_t version = 0;  // of `last`
  std::shared_ptr<CallCancellation> poll_in_flight;
  int polls_since_header_read = 0;
  bool stopped = false;
};

JobWatchHub::JobWatchHub(Options options, UpstreamCaller* upstream, HttpTransport* transport,
                         Scheduler* scheduler, const Clock* clock)
    : options_(options),
      upstream_(upstream),
      transport_(transport),
      scheduler_(scheduler),
      clock_(clock) {}

JobWatchHub::~JobWatchHub() { Shutdown(absl::UnavailableError("the gateway is shutting down")); }

void JobWatchHub::Watch(const Profile* profile, std::string iot_instance_id, std::string job_id,
                        std::shared_ptr<JobWatcher> watcher) {
  const std::string key = absl::StrCat(profile->name, "\n", iot_instance_id, "\n", job_id);
  absl::optional<v1::VerifyJob> current;
  int64_t version = 0;
  std::shared_ptr<Poller> started;
  absl::optional<absl::Status> refused;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_.has_value()) {
      refused = *shutdown_;
    } else {
      std::shared_ptr<Poller>& poller = pollers_[key];
      if (poller == nullptr) {
        poller = std::make_shared<Poller>();
        poller->key = key;
        poller->profile = profile;
        poller->iot_instance_id = std::move(iot_instance_id);
        poller->job_id = std::move(job_id);
        started = poller;
      }
      poller->watchers.push_back(watcher);
      watching_[watcher.get()] = key;
      current = poller->last;
      version = poller->version;
    }
  }
  if (refused.has_value()) return watcher->OnEnd(*refused);
  if (current.has_value()) watcher->OnJob(*current, version);
  if (started != nullptr) Poll(std::move(started));
}

void JobWatchHub::Unwatch(const std::shared_ptr<JobWatcher>& watcher) {
  std::shared_ptr<CallCancellation> abandoned;
  {
    absl::MutexLock lock(&mu_);
    auto entry = watching_.find(watcher.get());
    if (entry == watching_.end()) return;
    auto poller = pollers_.find(entry->second);
    watching_.erase(entry);
    if (poller == pollers_.end()) return;
    auto& watchers = poller->second->watchers;
    watchers.erase(std::remove(watchers.begin(), watchers.end(), watcher), watchers.end());
    if (!watchers.empty()) return;
    abandoned = StopLocked(*poller->second);
  }
  if (abandoned != nullptr) abandoned->Cancel();
}

void JobWatchHub::Shutdown(const absl::Status& status) {
  std::vector<std::shared_ptr<JobWatcher>> ended;
  std::vector<std::shared_ptr<CallCancellation>> abandoned;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_.has_value()) return;
    shutdown_ = status;
    std::vector<std::shared_ptr<Poller>> pollers;
    for (auto& [key, poller] : pollers_) pollers.push_back(poller);
    for (auto& poller : pollers) {
      ended.insert(ended.end(), poller->watchers.begin(), poller->watchers.end());
      if (auto cancel = StopLocked(*poller)) abandoned.push_back(std::move(cancel));
    }
  }
  for (auto& cancel : abandoned) cancel->Cancel();
  for (auto& watcher : ended) watcher->OnEnd(status);
}

JobWatchHub::Stats JobWatchHub::GetStats() const {
  absl::MutexLock lock(&mu_);
  Stats stats;
  stats.pollers = static_cast<int>(pollers_.size());
  stats.watchers = static_cast<int>(watching_.size());
  stats.polls = polls_;
  stats.header_reads = header_reads_;
  stats.polls_skipped = polls_skipped_;
  return stats;
}

std::shared_ptr<CallCancellation> JobWatchHub::StopLocked(Poller& poller) {
  poller.stopped = true;
  for (const auto& watcher : poller.watchers) watching_.erase(watcher.get());
  auto it = pollers_.find(poller.key);
  if (it != pollers_.end() && it->second.get() == &poller) pollers_.erase(it);
  return std::move(poller.poll_in_flight);
}

void JobWatchHub::Poll(std::shared_ptr<Poller> poller) {
  ReadContext context;
  {
    absl::MutexLock lock(&mu_);
    if (poller->stopped) return;  // the scheduler may run a pending poll early, when draining
    poller->poll_in_flight = std::make_shared<CallCancellation>(transport_);
    context.cancellation = poller->poll_in_flight;
    ++polls_;
  }
  context.upstream = upstream_;
  context.profile = poller->profile;
  context.iot_instance_id = poller->iot_instance_id;
  context.deadline = clock_->Now() + options_.poll_timeout;
  // Tasks first: the job itself is read again only when they moved (its state follows theirs),
  // once they all ended (to see it complete), or now and then for its other fields.
  const std::string job_id = poller->job_id;
  ReadJobTasks(
      context, job_id,
      [this, poller, context, job_id](absl::StatusOr<v1::VerifyJob> tasks, UpstreamTrace) mutable {
        if (!tasks.ok()) return OnPolled(std::move(poller), tasks.status());
        absl::optional<v1::VerifyJob> unchanged;
        {
          absl::MutexLock lock(&mu_);
          if (poller->stopped) return;
          if (poller->last.has_value() && poller->polls_since_header_read < kPollsPerHeaderRead &&
              SameTasks(*poller->last, *tasks) && !AllTasksEnded(*tasks)) {
            unchanged = poller->last;
            ++poller->polls_since_header_read;
          } else {
            poller->polls_since_header_read = 0;
            ++header_reads_;
          }
        }
        if (unchanged.has_value()) return OnPolled(std::move(poller), *unchanged);
        ReadJobHeader(std::move(context), job_id,
                      [this, poller, tasks = *std::move(tasks)](absl::StatusOr<v1::VerifyJob> job,
                                                                UpstreamTrace) mutable {
                        if (job.ok()) {
                          *job->mutable_tasks() = std::move(*tasks.mutable_tasks());
                          job->set_finished(VerifyJobFinished(*job));
                        }
                        OnPolled(std::move(poller), std::move(job));
                      });
      });
}

void JobWatchHub::OnPolled(std::shared_ptr<Poller> poller, absl::StatusOr<v1::VerifyJob> job) {
  // The quota could not take the poll in time: skip it, the next one will do.
  const bool skipped = !job.ok() && IsRateLimited(job.status());
  absl::Status failure = job.status();
  if (!job.ok()) {
    ResourceNames names;
    names.job_id = poller->job_id;
    names.iot_instance_id = poller->iot_instance_id;
    AddResourceDetails(failure, names);
  }
  std::vector<std::shared_ptr<JobWatcher>> watchers;
  bool changed = false;
  int64_t version = 0;
  absl::optional<absl::Status> end;
  {
    absl::MutexLock lock(&mu_);
    if (poller->stopped) return;
    poller->poll_in_flight.reset();
    watchers = poller->watchers;
    if (job.ok()) {
      changed = !poller->last.has_value() ||
                !google::protobuf::util::MessageDifferencer::Equals(*poller->last, *job);
      if (changed) {
        poller->last = *job;
        ++poller->version;
      }
      version = poller->version;
      if (job->finished()) end = absl::OkStatus();
    } else if (skipped) {
      ++polls_skipped_;
    } else if (PollingCannotCure(failure.code())) {
      end = failure;
    }
    if (end.has_value()) StopLocked(*poller);
  }
  const bool report = !job.ok() && !skipped && !end.has_value();
  if (report) {
    Log(LogLevel::kWarning, "verify job poll failed; polling goes on",
        {{"job_id", poller->job_id}, {"error", std::string(failure.message())}});
  }
  for (const auto& watcher : watchers) {
    if (changed) watcher->OnJob(*job, version);
    if (report) watcher->OnPollFailed(failure);
    if (end.has_value()) watcher->OnEnd(*end);
  }
  if (!end.has_value()) {
    scheduler_->RunAfter(options_.poll_interval,
                         [this, poller = std::move(poller)]() mutable { Poll(std::move(poller)); });
  }
}

}  // namespace otaverify

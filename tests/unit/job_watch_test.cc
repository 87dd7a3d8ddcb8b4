// JobWatchHub over a scripted upstream: watchers of one job share one poller, only changes are
// passed on, the watch ends after the finished job, failures are reported or end the watch,
// and the last watcher to leave stops the polling.
#include "service/server/job_watch.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/credentials/credentials.h"
#include "tests/testing/fake_http_transport.h"

namespace otaverify {
namespace {

using ::otaverify::testing::FakeHttpTransport;
using ::otaverify::testing::Reply;

// Records what the hub tells one watcher.
class RecordingWatcher : public JobWatcher {
 public:
  void OnJob(const v1::VerifyJob& job, int64_t version) override {
    absl::MutexLock lock(&mu_);
    EXPECT_GT(version, last_version_) << "versions grow with each change";
    last_version_ = version;
    jobs_.push_back(job);
  }
  void OnPollFailed(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    failures_.push_back(status);
  }
  void OnEnd(const absl::Status& status) override {
    {
      absl::MutexLock lock(&mu_);
      end_ = status;
    }
    ended_.Notify();
  }

  bool WaitForEnd() { return ended_.WaitForNotificationWithTimeout(absl::Seconds(10)); }
  bool WaitForFailures(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return failures_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  bool WaitForJobs(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return jobs_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  std::vector<v1::VerifyJob> jobs() const {
    absl::MutexLock lock(&mu_);
    return jobs_;
  }
  std::vector<absl::Status> failures() const {
    absl::MutexLock lock(&mu_);
    return failures_;
  }
  absl::Status end() const {
    absl::MutexLock lock(&mu_);
    return end_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::VerifyJob> jobs_ ABSL_GUARDED_BY(mu_);
  int64_t last_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<absl::Status> failures_ ABSL_GUARDED_BY(mu_);
  absl::Status end_ ABSL_GUARDED_BY(mu_) = absl::UnknownError("not ended");
  absl::Notification ended_;
};

// A scripted upstream job: each ListOTATaskByJob is one poll, whose number picks the one
// task's progress; QueryOTAJob answers for the latest poll.
class FakeJobUpstream {
 public:
  // Poll n (0-based) sees progress progress[n] (the last one repeats); "done" ends the job.
  explicit FakeJobUpstream(std::vector<int> progress) : progress_(std::move(progress)) {}

  absl::StatusOr<HttpResponse> Answer(const HttpRequest& request) {
    const std::string action = Header(request, "x-acs-action");
    absl::MutexLock lock(&mu_);
    if (fail_with_ != 0)
      return Reply(fail_with_, R"({"RequestId":"E","Code":"ServiceUnavailable"})");
    if (!found_) {
      return Reply(200, R"({"RequestId":"N","Success":false,"Code":"iot.ota.NotExistedJob",
                             "ErrorMessage":"no such job"})");
    }
    if (action == "QueryOTAJob") {
      ++queries_;
      const char* status = current_ >= 100 ? "COMPLETED" : "IN_PROGRESS";
      return Reply(200, absl::StrCat(R"({"RequestId":"Q","Success":true,"Data":{"JobId":"job-1",)",
                                     R"("JobStatus":")", status, R"("}})"));
    }
    ++lists_;
    current_ = progress_[std::min(lists_ - 1, progress_.size() - 1)];
    const char* task_status = current_ >= 100 ? "SUCCEEDED" : "IN_PROGRESS";
    return Reply(200, absl::StrCat(R"({"RequestId":"L","Success":true,"Total":1,"PageCount":1,)",
                                   R"("Data":{"SimpleOTATaskInfo":[{"TaskId":"t1",)",
                                   R"("DeviceName":"d1","TaskStatus":")", task_status,
                                   R"(","Progress":")", current_, R"(.00"}]}})"));
  }

  void SetFound(bool found) {
    absl::MutexLock lock(&mu_);
    found_ = found;
  }
  void FailWith(int http_status) {
    absl::MutexLock lock(&mu_);
    fail_with_ = http_status;
  }
  // The next `count` requests fail with HTTP 503, then answers are normal again.
  void FailNext(int count) {
    absl::MutexLock lock(&mu_);
    fail_next_ = count;
  }
  int queries() const {
    absl::MutexLock lock(&mu_);
    return queries_;
  }
  size_t lists() const {
    absl::MutexLock lock(&mu_);
    return lists_;
  }

 private:
  static std::string Header(const HttpRequest& request, const std::string& name) {
    for (const auto& [key, value] : request.headers) {
      if (key == name) return value;
    }
    return "";
  }

  mutable absl::Mutex mu_;
  const std::vector<int> progress_;
  int current_ ABSL_GUARDED_BY(mu_) = 0;
  int queries_ ABSL_GUARDED_BY(mu_) = 0;
  size_t lists_ ABSL_GUARDED_BY(mu_) = 0;
  bool found_ ABSL_GUARDED_BY(mu_) = true;
  int fail_with_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_next_ ABSL_GUARDED_BY(mu_) = 0;
};

class JobWatchTest : public ::testing::Test {
 protected:
  explicit JobWatchTest(std::vector<int> progress = {10, 10, 50, 100}, int max_attempts = 1)
      : upstream_job_(std::move(progress)),
        credentials_(
            Credentials{"test-key-id", "test-key-secret", "", absl::InfiniteFuture(), "test"}) {
    transport_.SetHandler([this](const HttpRequest& r) { return upstream_job_.Answer(r); });
    profile_.name = "default";
    profile_.endpoint = *ParseEndpoint("http://127.0.0.1:1");
    profile_.credentials = &credentials_;
    UpstreamCaller::Options options;
    options.max_attempts = max_attempts;  // 1: a failed poll is reported at once
    options.backoff_base = absl::Milliseconds(1);
    options.breaker.open_duration = absl::Milliseconds(50);
    upstream_ = std::make_unique<UpstreamCaller>(options, &transport_, &scheduler_, &clock_);
    JobWatchHub::Options hub_options;
    hub_options.poll_interval = absl::Milliseconds(20);
    hub_ = std::make_unique<JobWatchHub>(hub_options, upstream_.get(), &transport_, &scheduler_,
                                         &clock_);
  }

  ~JobWatchTest() override {
    hub_->Shutdown(absl::UnavailableError("test over"));
    scheduler_.Shutdown();
  }

  void Watch(const std::shared_ptr<RecordingWatcher>& watcher, const std::string& job = "job-1") {
    hub_->Watch(&profile_, "", job, watcher);
  }

  FakeJobUpstream upstream_job_;
  FakeHttpTransport transport_;
  StaticCredentialsProvider credentials_;
  Profile profile_;
  SystemClock clock_;
  Scheduler scheduler_;
  std::unique_ptr<UpstreamCaller> upstream_;
  std::unique_ptr<JobWatchHub> hub_;
};

TEST_F(JobWatchTest, WatchersShareOnePollerAndSeeOnlyChanges) {
  auto first = std::make_shared<RecordingWatcher>();
  auto second = std::make_shared<RecordingWatcher>();
  Watch(first);
  Watch(second);
  EXPECT_EQ(hub_->GetStats().pollers, 1);
  EXPECT_EQ(hub_->GetStats().watchers, 2);
  ASSERT_TRUE(first->WaitForEnd());
  ASSERT_TRUE(second->WaitForEnd());
  EXPECT_TRUE(first->end().ok()) << first->end();
  EXPECT_TRUE(second->end().ok()) << second->end();

  // Four polls (10, 10, 50, 100) for both watchers: the repeat of 10 % is not passed on, and
  // needed no QueryOTAJob.
  EXPECT_EQ(upstream_job_.lists(), 4u);
  EXPECT_EQ(upstream_job_.queries(), 3);
  EXPECT_EQ(hub_->GetStats().polls, 4);
  EXPECT_EQ(hub_->GetStats().header_reads, 3);
  for (const auto& watcher : {first, second}) {
    std::vector<double> progress;
    for (const auto& job : watcher->jobs()) progress.push_back(job.tasks(0).progress_percent());
    EXPECT_THAT(progress, ::testing::ElementsAre(10, 50, 100));
    ASSERT_FALSE(watcher->jobs().empty());
    EXPECT_TRUE(watcher->jobs().back().finished());
    EXPECT_EQ(watcher->jobs().back().state(), v1::VERIFY_JOB_STATE_COMPLETED);
  }
  EXPECT_EQ(hub_->GetStats().pollers, 0);
  EXPECT_EQ(hub_->GetStats().watchers, 0);
}

TEST_F(JobWatchTest, ALateWatcherGetsTheCurrentJobAtOnce) {
  auto first = std::make_shared<RecordingWatcher>();
  Watch(first);
  ASSERT_TRUE(first->WaitForJobs(1));
  const size_t polls_before = upstream_job_.lists();
  auto late = std::make_shared<RecordingWatcher>();
  Watch(late);
  // Delivered from the poller's last read, before any new poll could have answered.
  ASSERT_FALSE(late->jobs().empty());
  EXPECT_GE(upstream_job_.lists(), polls_before);
  ASSERT_TRUE(late->WaitForEnd());
  EXPECT_TRUE(late->end().ok());
}

TEST_F(JobWatchTest, AJobThatDoesNotExistEndsTheWatch) {
  upstream_job_.SetFound(false);
  auto watcher = std::make_shared<RecordingWatcher>();
  Watch(watcher);
  ASSERT_TRUE(watcher->WaitForEnd());
  EXPECT_EQ(watcher->end().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(watcher->jobs().empty());
  EXPECT_EQ(upstream_job_.lists(), 0u);
  EXPECT_EQ(hub_->GetStats().pollers, 0);
}

TEST_F(JobWatchTest, TransientFailuresAreReportedAndPollingGoesOn) {
  upstream_job_.FailWith(503);
  auto watcher = std::make_shared<RecordingWatcher>();
  Watch(watcher);
  ASSERT_TRUE(watcher->WaitForFailures(2));
  const std::vector<absl::Status> failures = watcher->failures();
  EXPECT_EQ(failures[0].code(), absl::StatusCode::kUnavailable);
  upstream_job_.FailWith(0);
  ASSERT_TRUE(watcher->WaitForEnd());
  EXPECT_TRUE(watcher->end().ok()) << watcher->end();
  EXPECT_TRUE(watcher->jobs().back().finished());
}

class RetryingJobWatchTest : public JobWatchTest {
 protected:
  RetryingJobWatchTest() : JobWatchTest({10, 100}, /*max_attempts=*/3) {}
};

TEST_F(RetryingJobWatchTest, AFailureTheRetriesCureIsNotReported) {
  upstream_job_.FailNext(1);  // the first poll's first attempt
  auto watcher = std::make_shared<RecordingWatcher>();
  Watch(watcher);
  ASSERT_TRUE(watcher->WaitForEnd());
  EXPECT_TRUE(watcher->end().ok()) << watcher->end();
  EXPECT_TRUE(watcher->failures().empty());
  ASSERT_FALSE(watcher->jobs().empty());
  EXPECT_TRUE(watcher->jobs().back().finished());
}

class StuckJobWatchTest : public JobWatchTest {
 protected:
  StuckJobWatchTest() : JobWatchTest({10}) {}
};

TEST_F(StuckJobWatchTest, TheLastWatcherToLeaveStopsPolling) {
  auto first = std::make_shared<RecordingWatcher>();
  auto second = std::make_shared<RecordingWatcher>();
  Watch(first);
  Watch(second);
  ASSERT_TRUE(first->WaitForJobs(1));
  hub_->Unwatch(first);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(hub_->GetStats().pollers, 1);  // the second still watches
  hub_->Unwatch(second);
  EXPECT_EQ(hub_->GetStats().pollers, 0);
  absl::SleepFor(absl::Milliseconds(50));  // a poll in flight may still land
  const size_t polls = upstream_job_.lists();
  absl::SleepFor(absl::Milliseconds(200));  // ten intervals
  EXPECT_EQ(upstream_job_.lists(), polls);
  EXPECT_EQ(first->end().code(), absl::StatusCode::kUnknown);  // OnEnd not called on Unwatch
}

TEST_F(StuckJobWatchTest, ShutdownEndsEveryWatchAndRefusesNewOnes) {
  auto watcher = std::make_shared<RecordingWatcher>();
  Watch(watcher);
  ASSERT_TRUE(watcher->WaitForJobs(1));
  hub_->Shutdown(absl::UnavailableError("shutting down"));
  ASSERT_TRUE(watcher->WaitForEnd());
  EXPECT_EQ(watcher->end().code(), absl::StatusCode::kUnavailable);
  auto late = std::make_shared<RecordingWatcher>();
  Watch(late);
  ASSERT_TRUE(late->WaitForEnd());
  EXPECT_EQ(late->end().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace otaverify

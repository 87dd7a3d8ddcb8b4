// The verification workflow end to end, real binaries on loopback: the CLI's `verify` to a
// verdict, shared watch polling within the quota, cancel, pagination, firmware state, and
// return_existing. The emulator simulates the devices of its demo seed (emulator/README.md).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "service/status/rich_status.h"
#include "tests/testing/harness.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace otaverify {
namespace {

using ::google::protobuf::Struct;
using ::otaverify::testing::CallResult;
using ::otaverify::testing::ErrorReason;
using ::otaverify::testing::Harness;
using ::otaverify::testing::RunCommand;
using ::testing::HasSubstr;

v1::CreateVerifyJobRequest Request(const std::string& firmware,
                                   const std::vector<std::string>& devices) {
  v1::CreateVerifyJobRequest request;
  request.set_product_key("a1DemoProduct");
  request.set_firmware_id(firmware);
  for (const std::string& device : devices) request.add_target_device_names(device);
  return request;
}

std::string CreateJob(Harness& harness, const std::string& firmware,
                      const std::vector<std::string>& devices) {
  const CallResult created = harness.Create(Request(firmware, devices));
  EXPECT_TRUE(created.status.ok()) << created.status;
  return created.response.job_id();
}

// The calls of `action` the emulator accepted in unix seconds [from, to).
double AcceptedBetween(Harness& harness, const std::string& action, int64_t from, int64_t to,
                       double* busiest_second = nullptr) {
  const Struct stats = harness.EmulatorStats();
  const auto per_action = stats.fields().find("accepted_per_second");
  if (per_action == stats.fields().end()) return -1;
  const auto seconds = per_action->second.struct_value().fields().find(action);
  if (seconds == per_action->second.struct_value().fields().end()) return 0;
  double total = 0;
  for (const auto& [second, count] : seconds->second.struct_value().fields()) {
    int64_t unix_second = 0;
    if (!absl::SimpleAtoi(second, &unix_second) || unix_second < from || unix_second >= to) {
      continue;
    }
    total += count.number_value();
    if (busiest_second != nullptr) {
      *busiest_second = std::max(*busiest_second, count.number_value());
    }
  }
  return total;
}

// Every request for `action` the emulator received.
double RequestsOf(Harness& harness, const std::string& action) {
  const Struct stats = harness.EmulatorStats();
  const auto& by_action = stats.fields().at("requests_by_action").struct_value().fields();
  const auto it = by_action.find(action);
  return it == by_action.end() ? 0 : it->second.number_value();
}

// Follows one job on its own thread; collects what the stream sent.
class Watch {
 public:
  Watch(v1::OtaVerify::Stub& stub, const std::string& job_id,
        absl::Duration deadline = absl::Seconds(60)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::WatchVerifyJobRequest request;
    request.set_job_id(job_id);
    thread_ = std::thread([this, &stub, request] {
      std::unique_ptr<grpc::ClientReader<v1::WatchVerifyJobResponse>> reader =
          stub.WatchVerifyJob(&context_, request);
      v1::WatchVerifyJobResponse event;
      while (reader->Read(&event)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(event);
      }
      grpc::Status status = reader->Finish();
      absl::MutexLock lock(&mu_);
      status_ = FromGrpcStatus(status);
      done_ = true;
    });
  }
  ~Watch() {
    context_.TryCancel();
    thread_.join();
  }

  void Cancel() { context_.TryCancel(); }
  // Waits for the stream to end; false after `timeout`.
  bool WaitForEnd(absl::Duration timeout = absl::Seconds(60)) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
  }
  bool WaitForJobs(size_t n, absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return events_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  absl::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  std::vector<v1::WatchVerifyJobResponse> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  v1::VerifyJob last_job() {
    absl::MutexLock lock(&mu_);
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (it->has_job()) return it->job();
    }
    return {};
  }

 private:
  grpc::ClientContext context_;
  absl::Mutex mu_;
  std::vector<v1::WatchVerifyJobResponse> events_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

std::vector<std::string> Cli(const Harness& harness, std::vector<std::string> args) {
  std::vector<std::string> argv = {OTAVERIFY_CLI_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(absl::StrCat("--target=", harness.gateway_address()));
  return argv;
}

// --- Must show 1: `otaverify verify` to a verdict. ---

TEST(Workflow, VerifyExitsZeroWhenEveryDeviceSucceeds) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--device_update_time=1s"}).ok());
  ASSERT_TRUE(harness.StartGateway({"--watch_poll_interval=200ms"}).ok());
  absl::StatusOr<testing::CommandResult> run =
      RunCommand(Cli(harness, {"verify", "--product_key=a1DemoProduct",
                               "--firmware_id=demo-firmware-6", "--device=demo-device-1",
                               "--device=demo-device-2", "--device=demo-device-3", "--tty=never"}));
  ASSERT_TRUE(run.ok()) << run.status();
  std::cout << run->output << std::endl;
  EXPECT_EQ(run->exit_status, 0) << run->output;
  EXPECT_THAT(run->output, HasSubstr("verdict: VERIFIED"));
  for (const char* device : {"demo-device-1", "demo-device-2", "demo-device-3"}) {
    EXPECT_THAT(run->output, HasSubstr(device));
  }

  v1::GetFirmwareVerificationRequest request;
  request.set_firmware_id("demo-firmware-6");
  v1::FirmwareVerification firmware;
  grpc::ClientContext context;
  ASSERT_TRUE(harness.stub().GetFirmwareVerification(&context, request, &firmware).ok());
  EXPECT_EQ(firmware.state(), v1::VERIFICATION_STATE_VERIFIED);
  EXPECT_EQ(firmware.progress_percent(), 100);
  EXPECT_EQ(firmware.verify_job_state(), v1::VERIFY_JOB_STATE_COMPLETED);
}

TEST(Workflow, VerifyFailsNamingTheFailingDeviceAndWhy) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--device_update_time=1s"}).ok());
  ASSERT_TRUE(harness.StartGateway({"--watch_poll_interval=200ms"}).ok());
  absl::StatusOr<testing::CommandResult> run = RunCommand(
      Cli(harness, {"verify", "--product_key=a1DemoProduct", "--firmware_id=demo-firmware-7",
                    "--device=demo-device-1", "--device=demo-device-2", "--device=demo-device-fail",
                    "--tty=never"}));
  ASSERT_TRUE(run.ok()) << run.status();
  std::cout << run->output << std::endl;
  EXPECT_EQ(run->exit_status, 20) << "verification did not succeed";
  EXPECT_THAT(run->output, HasSubstr("verdict: FAILED"));
  EXPECT_THAT(run->output, HasSubstr("demo-device-fail FAILED: checksum mismatch after download"));
}

// --- Must show 2: fifty watchers cost what one costs, within the quota. ---

TEST(Workflow, FiftyWatchersOfOneJobCostTheUpstreamWhatOneCosts) {
  // Two identical worlds side by side (emulator + gateway each), each with a job made at the
  // same moment on the same kind of device, so the jobs change alike: one watcher follows the
  // first, fifty the second. Devices that take 20 s move a percent every 200 ms, so nearly
  // every poll sees the tasks moved and reads the job too: the costliest case. Both gateways
  // pace themselves to the documented quotas, as in production.
  const std::vector<std::string> emulator_args = {"--device_update_time=20s", "--quota=on"};
  const std::vector<std::string> gateway_args = {
      "--watch_poll_interval=250ms",
      "--upstream_quotas=CreateOTAVerifyJob=10,QueryOTAJob=10,ListOTATaskByJob=10"};
  Harness one_world;
  Harness fifty_world;
  for (Harness* world : {&one_world, &fifty_world}) {
    ASSERT_TRUE(world->StartEmulator(emulator_args).ok());
    ASSERT_TRUE(world->StartGateway(gateway_args).ok());
  }
  const std::string one_job = CreateJob(one_world, "demo-firmware-8", {"demo-device-1"});
  const std::string shared_job = CreateJob(fifty_world, "demo-firmware-8", {"demo-device-1"});
  std::vector<std::unique_ptr<Watch>> watches;
  watches.push_back(std::make_unique<Watch>(one_world.stub(), one_job));
  for (int i = 0; i < 50; ++i) {
    watches.push_back(std::make_unique<Watch>(fifty_world.stub(), shared_job));
  }
  absl::SleepFor(absl::Seconds(5));
  for (auto& watch : watches) {
    EXPECT_FALSE(watch->events().empty());
    watch->Cancel();
  }
  watches.clear();

  auto report = [](Harness& world, int watchers) {
    double busiest = 0;
    const double tasks = AcceptedBetween(world, "ListOTATaskByJob", 0, INT64_MAX, &busiest);
    const double jobs = AcceptedBetween(world, "QueryOTAJob", 0, INT64_MAX, &busiest);
    std::cout << watchers << " watcher(s), 5 s: " << tasks << " ListOTATaskByJob, " << jobs
              << " QueryOTAJob; busiest second " << busiest << " calls of one action" << std::endl;
    // Within the account's quota of 10 per second for each action, never throttled.
    EXPECT_LE(busiest, 10);
    const Struct stats = world.EmulatorStats();
    for (const auto& [action, count] : stats.fields().at("throttled").struct_value().fields()) {
      EXPECT_EQ(count.number_value(), 0) << action;
    }
    return std::make_pair(tasks, jobs);
  };
  const auto [one_tasks, one_jobs] = report(one_world, 1);
  const auto [fifty_tasks, fifty_jobs] = report(fifty_world, 50);
  ASSERT_GT(one_tasks, 0);
  // The same polls, give or take the one the end of the window cuts off (or a few more when
  // a busy machine delays one world's polls more than the other's): 50 watchers polling on
  // their own would have made 50 times as many.
  const double tolerance_tasks = std::max(1.0, 0.15 * one_tasks);
  const double tolerance_jobs = std::max(1.0, 0.15 * one_jobs);
  EXPECT_LE(std::abs(fifty_tasks - one_tasks), tolerance_tasks);
  EXPECT_LE(std::abs(fifty_jobs - one_jobs), tolerance_jobs);
}

// --- Must show 3: cancel. ---

TEST(Workflow, CancelMovesUnfinishedTasksToCanceledAndEndsTheWatch) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--device_update_time=2s"}).ok());
  ASSERT_TRUE(harness.StartGateway({"--watch_poll_interval=200ms"}).ok());
  // One device that finishes in 2 s, one that never comes online, one whose update stalls.
  const std::string job = CreateJob(
      harness, "demo-firmware-10", {"demo-device-1", "demo-device-offline", "demo-device-timeout"});
  Watch watch(harness.stub(), job);
  auto first_succeeded = [&watch] {
    const v1::VerifyJob last = watch.last_job();
    return last.tasks_size() == 3 && last.tasks(0).state() == v1::TASK_STATE_SUCCEEDED;
  };
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  while (!first_succeeded() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(first_succeeded());
  EXPECT_FALSE(watch.last_job().finished());

  v1::CancelVerifyJobRequest cancel;
  cancel.set_job_id(job);
  v1::CancelVerifyJobResponse canceled;
  grpc::ClientContext context;
  const grpc::Status status = harness.stub().CancelVerifyJob(&context, cancel, &canceled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(canceled.canceled_states_size(), 4);  // every unfinished state, by default
  EXPECT_FALSE(canceled.upstream_request_id().empty());

  ASSERT_TRUE(watch.WaitForEnd(absl::Seconds(10)));
  EXPECT_TRUE(watch.status().ok()) << watch.status();
  const v1::VerifyJob last = watch.last_job();
  EXPECT_TRUE(last.finished());
  EXPECT_EQ(last.state(), v1::VERIFY_JOB_STATE_CANCELED);
  ASSERT_EQ(last.tasks_size(), 3);
  EXPECT_EQ(last.tasks(0).state(), v1::TASK_STATE_SUCCEEDED) << "an ended task is not touched";
  EXPECT_EQ(last.tasks(1).device_name(), "demo-device-offline");
  EXPECT_EQ(last.tasks(1).state(), v1::TASK_STATE_CANCELED);  // was QUEUED
  EXPECT_EQ(last.tasks(2).device_name(), "demo-device-timeout");
  EXPECT_EQ(last.tasks(2).state(), v1::TASK_STATE_CANCELED);  // was IN_PROGRESS
  EXPECT_GT(last.tasks(2).progress_percent(), 0);             // its progress stays as it was
}

TEST(Workflow, CancelRejectsAFinishedStateNamingTheField) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  v1::CancelVerifyJobRequest cancel;
  cancel.set_job_id("any-job");
  cancel.add_task_states(v1::TASK_STATE_SUCCEEDED);
  v1::CancelVerifyJobResponse canceled;
  grpc::ClientContext context;
  const absl::Status status =
      FromGrpcStatus(harness.stub().CancelVerifyJob(&context, cancel, &canceled));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(testing::ViolatedFields(status), ::testing::ElementsAre("task_states[0]"));
  EXPECT_EQ(harness.Stat("requests_total"), 0);
}

// --- Must show 4: pagination. ---

TEST(Workflow, TenTasksServedThreePerPageAreAllReturned) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--max_page_size=3"}).ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  std::vector<std::string> devices;
  for (int i = 1; i <= 10; ++i) devices.push_back(absl::StrCat("demo-device-", i));
  const std::string job = CreateJob(harness, "demo-firmware-11", devices);

  const double pages_before = RequestsOf(harness, "ListOTATaskByJob");
  v1::GetVerifyJobRequest request;
  request.set_job_id(job);
  v1::VerifyJob answer;
  grpc::ClientContext context;
  const grpc::Status status = harness.stub().GetVerifyJob(&context, request, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const double pages = RequestsOf(harness, "ListOTATaskByJob") - pages_before;
  std::cout << answer.tasks_size() << " tasks in " << pages << " pages" << std::endl;
  EXPECT_EQ(pages, 4);
  ASSERT_EQ(answer.tasks_size(), 10);
  std::vector<std::string> names;
  for (const v1::DeviceTask& task : answer.tasks()) names.push_back(task.device_name());
  std::sort(names.begin(), names.end());
  std::sort(devices.begin(), devices.end());
  EXPECT_EQ(names, devices);  // each device once
  EXPECT_EQ(answer.job_id(), job);
  EXPECT_EQ(answer.firmware_id(), "demo-firmware-11");
  EXPECT_NE(answer.state(), v1::VERIFY_JOB_STATE_UNSPECIFIED);
  // Every upstream call of the read is in the trailer: 1 QueryOTAJob + 4 pages.
  const auto ids = context.GetServerTrailingMetadata().find("x-upstream-request-id");
  ASSERT_NE(ids, context.GetServerTrailingMetadata().end());
  EXPECT_EQ(std::count(ids->second.begin(), ids->second.end(), ',') + 1, 5);
}

// --- Firmware state, return_existing, errors. ---

TEST(Workflow, FirmwareVerificationNamesTheJobInProgress) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--device_update_time=30s"}).ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  const std::string job = CreateJob(harness, "demo-firmware-12", {"demo-device-1"});
  v1::GetFirmwareVerificationRequest request;
  request.set_firmware_id("demo-firmware-12");
  v1::FirmwareVerification firmware;
  grpc::ClientContext context;
  ASSERT_TRUE(harness.stub().GetFirmwareVerification(&context, request, &firmware).ok());
  EXPECT_EQ(firmware.state(), v1::VERIFICATION_STATE_VERIFYING);
  EXPECT_EQ(firmware.upstream_status(), 2);
  EXPECT_EQ(firmware.verify_job_id(), job);
  EXPECT_EQ(firmware.verify_job_state(), v1::VERIFY_JOB_STATE_IN_PROGRESS);
  EXPECT_FALSE(firmware.upstream_request_id().empty());

  request.set_firmware_id("no-such-firmware");
  grpc::ClientContext missing_context;
  const absl::Status missing =
      FromGrpcStatus(harness.stub().GetFirmwareVerification(&missing_context, request, &firmware));
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReason(missing), "FIRMWARE_NOT_FOUND");
  const auto resource = GetDetail<google::rpc::ResourceInfo>(missing);
  ASSERT_TRUE(resource.has_value());
  EXPECT_EQ(resource->resource_name(), "no-such-firmware");
}

TEST(Workflow, ReturnExistingAnswersWithTheJobInProgress) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--device_update_time=30s"}).ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  const std::string job = CreateJob(harness, "demo-firmware-13", {"demo-device-1"});

  v1::CreateVerifyJobRequest again = Request("demo-firmware-13", {"demo-device-2"});
  const CallResult refused = harness.Create(again);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(refused.status), "FIRMWARE_ALREADY_VERIFYING");

  again.set_return_existing(true);
  const CallResult existing = harness.Create(again);
  ASSERT_TRUE(existing.status.ok()) << existing.status;
  EXPECT_EQ(existing.response.job_id(), job);
  EXPECT_TRUE(existing.response.already_existed());
  EXPECT_TRUE(existing.response.has_create_time());
  // The first create made the job; the two after it reached the upstream and were refused.
  EXPECT_EQ(RequestsOf(harness, "CreateOTAVerifyJob"), 3);
  v1::GetFirmwareVerificationRequest request;
  request.set_firmware_id("demo-firmware-13");
  v1::FirmwareVerification firmware;
  grpc::ClientContext context;
  ASSERT_TRUE(harness.stub().GetFirmwareVerification(&context, request, &firmware).ok());
  EXPECT_EQ(firmware.verify_job_id(), job);
}

TEST(Workflow, AJobThatDoesNotExistIsNotFoundForReadsAndWatches) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  v1::GetVerifyJobRequest request;
  request.set_job_id("no-such-job");
  v1::VerifyJob answer;
  grpc::ClientContext context;
  const absl::Status status =
      FromGrpcStatus(harness.stub().GetVerifyJob(&context, request, &answer));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReason(status), "VERIFY_JOB_NOT_FOUND");
  const auto resource = GetDetail<google::rpc::ResourceInfo>(status);
  ASSERT_TRUE(resource.has_value());
  EXPECT_EQ(resource->resource_type(), "iot.aliyuncs.com/OTAJob");
  EXPECT_EQ(resource->resource_name(), "no-such-job");

  Watch watch(harness.stub(), "no-such-job");
  ASSERT_TRUE(watch.WaitForEnd(absl::Seconds(10)));
  EXPECT_EQ(watch.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(watch.events().empty());
  const auto watched = GetDetail<google::rpc::ResourceInfo>(watch.status());
  ASSERT_TRUE(watched.has_value());
  EXPECT_EQ(watched->resource_name(), "no-such-job");

  Watch invalid(harness.stub(), "");
  ASSERT_TRUE(invalid.WaitForEnd(absl::Seconds(10)));
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(testing::ViolatedFields(invalid.status()), ::testing::ElementsAre("job_id"));
}

TEST(Workflow, AWatchEndsCleanlyAtItsDeadlineAndStopsPolling) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--device_update_time=60s"}).ok());
  ASSERT_TRUE(harness.StartGateway({"--watch_poll_interval=100ms"}).ok());
  const std::string job = CreateJob(harness, "demo-firmware-14", {"demo-device-1"});
  Watch watch(harness.stub(), job, absl::Milliseconds(700));
  ASSERT_TRUE(watch.WaitForEnd(absl::Seconds(10)));
  EXPECT_EQ(watch.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(watch.events().empty());
  // Nobody watches: the poller stopped.
  absl::SleepFor(absl::Milliseconds(300));
  const double polls = RequestsOf(harness, "ListOTATaskByJob");
  EXPECT_GT(polls, 0);
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(RequestsOf(harness, "ListOTATaskByJob"), polls);
}

TEST(Workflow, ShutdownEndsWatchesAtOnceSoTheGatewayExitsPromptly) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--device_update_time=60s"}).ok());
  ASSERT_TRUE(harness.StartGateway({"--watch_poll_interval=100ms", "--shutdown_grace=20s"}).ok());
  const std::string job = CreateJob(harness, "demo-firmware-15", {"demo-device-1"});
  Watch watch(harness.stub(), job);
  ASSERT_TRUE(watch.WaitForJobs(1));
  const absl::Time start = absl::Now();
  kill(harness.gateway().pid(), SIGTERM);
  ASSERT_TRUE(watch.WaitForEnd(absl::Seconds(10)));
  const absl::Duration watch_ended = absl::Now() - start;
  std::cout << "watch ended " << absl::ToDoubleMilliseconds(watch_ended) << " ms after SIGTERM"
            << std::endl;
  EXPECT_LT(watch_ended, absl::Seconds(2));
  EXPECT_EQ(watch.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(watch.status()), "GATEWAY_SHUTTING_DOWN");
  absl::StatusOr<int> exit_status = harness.gateway().Wait(absl::Seconds(10));
  ASSERT_TRUE(exit_status.ok()) << exit_status.status();
  EXPECT_EQ(*exit_status, 0);
  std::cout << "gateway exited " << absl::ToDoubleMilliseconds(absl::Now() - start)
            << " ms after SIGTERM with a watch open" << std::endl;
  // Well inside the 20 s grace period a watch left open would have held.
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace otaverify

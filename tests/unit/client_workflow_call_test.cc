// In-process tests of the Client's verify-workflow calls (GetFirmwareVerification,
// GetVerifyJob, CancelVerifyJob, WatchVerifyJob) against a fake service on 127.0.0.1:0.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "service/status/rich_status.h"
#include "tests/unit/client_fake_ota_verify.h"

namespace otaverify {
namespace {

using ::otaverify::testing::FakeGateway;
using ::otaverify::testing::WatchScript;
using ::otaverify::testing::WatchStep;
using ::testing::ElementsAre;

// GetDetail<T> spelled for absl builds whose GetPayload returns absl::optional.
template <typename T>
std::optional<T> Detail(const absl::Status& status) {
  T message;
  const auto payload = status.GetPayload(DetailTypeUrl(message));
  if (!payload.has_value() || !message.ParseFromString(std::string(*payload))) return std::nullopt;
  return message;
}

v1::WatchVerifyJobResponse JobEvent(const std::string& job_id, double progress, bool finished) {
  v1::WatchVerifyJobResponse event;
  v1::VerifyJob* job = event.mutable_job();
  job->set_job_id(job_id);
  job->set_state(finished ? v1::VERIFY_JOB_STATE_COMPLETED : v1::VERIFY_JOB_STATE_IN_PROGRESS);
  job->set_finished(finished);
  v1::DeviceTask* task = job->add_tasks();
  task->set_device_name("D1");
  task->set_progress_percent(progress);
  return event;
}

v1::WatchVerifyJobResponse UpstreamErrorEvent(const std::string& message) {
  v1::WatchVerifyJobResponse event;
  event.mutable_upstream_error()->set_code(static_cast<int>(absl::StatusCode::kUnavailable));
  event.mutable_upstream_error()->set_message(message);
  return event;
}

v1::WatchVerifyJobRequest WatchRequest() {
  v1::WatchVerifyJobRequest request;
  request.set_account("prod");
  request.set_job_id("JOB-1");
  request.set_iot_instance_id("iot-1");
  return request;
}

class ClientWorkflowCall : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(gateway_.target().empty()); }
  Client client() { return Client::Connect(gateway_.target()); }

  FakeGateway gateway_;
};

TEST_F(ClientWorkflowCall, GetFirmwareVerificationReturnsTheMessageAndTrailer) {
  v1::FirmwareVerification firmware;
  firmware.set_firmware_id("FW1");
  firmware.set_state(v1::VERIFICATION_STATE_VERIFYING);
  firmware.set_progress_percent(40);
  firmware.set_verify_job_id("JOB-1");
  gateway_.service().SetFirmware({firmware});
  v1::GetFirmwareVerificationRequest request;
  request.set_account("prod");
  request.set_firmware_id("FW1");
  request.set_iot_instance_id("iot-1");

  CallMetadata metadata;
  const auto result = client().GetFirmwareVerification(request, {}, &metadata);

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->state(), v1::VERIFICATION_STATE_VERIFYING);
  EXPECT_EQ(result->progress_percent(), 40);
  EXPECT_EQ(result->verify_job_id(), "JOB-1");
  EXPECT_EQ(metadata.upstream_request_id, "REQ-GetFirmwareVerification");
  EXPECT_EQ(gateway_.service().firmware_request().account(), "prod");
  EXPECT_EQ(gateway_.service().firmware_request().iot_instance_id(), "iot-1");
}

TEST_F(ClientWorkflowCall, GetVerifyJobErrorKeepsCodeAndDetails) {
  absl::Status error = absl::NotFoundError("no such job");
  google::rpc::ErrorInfo info;
  info.set_reason("VERIFY_JOB_NOT_FOUND");
  info.set_domain(kErrorDomain);
  SetDetail(error, info);
  gateway_.service().SetJob(error);
  v1::GetVerifyJobRequest request;
  request.set_job_id("JOB-X");

  CallMetadata metadata;
  const auto result = client().GetVerifyJob(request, {}, &metadata);

  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(result.status().message(), "no such job");
  const auto got = Detail<google::rpc::ErrorInfo>(result.status());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->reason(), "VERIFY_JOB_NOT_FOUND");
  EXPECT_EQ(metadata.upstream_request_id, "REQ-GetVerifyJob");
  EXPECT_EQ(gateway_.service().job_request().job_id(), "JOB-X");
}

TEST_F(ClientWorkflowCall, CancelVerifyJobSendsTheStates) {
  v1::CancelVerifyJobResponse canned;
  canned.add_canceled_states(v1::TASK_STATE_QUEUED);
  canned.set_upstream_request_id("REQ-C");
  gateway_.service().SetCancel(canned);
  v1::CancelVerifyJobRequest request;
  request.set_job_id("JOB-1");
  request.add_task_states(v1::TASK_STATE_QUEUED);

  const auto result = client().CancelVerifyJob(request);

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->canceled_states(), ElementsAre(v1::TASK_STATE_QUEUED));
  EXPECT_THAT(gateway_.service().cancel_request().task_states(),
              ElementsAre(v1::TASK_STATE_QUEUED));
}

TEST_F(ClientWorkflowCall, WatchDeliversEveryEventInOrderAndEndsOk) {
  gateway_.service().SetWatch(WatchScript{{{absl::ZeroDuration(), JobEvent("JOB-1", 10, false)},
                                           {absl::ZeroDuration(), UpstreamErrorEvent("poll")},
                                           {absl::ZeroDuration(), JobEvent("JOB-1", 100, true)}},
                                          absl::OkStatus()});
  std::vector<std::string> seen;
  CallMetadata metadata;

  const absl::Status status = client().WatchVerifyJob(
      WatchRequest(), {},
      [&seen](const v1::WatchVerifyJobResponse& event) {
        seen.push_back(event.has_job()
                           ? absl::StrCat("job ", event.job().tasks(0).progress_percent(),
                                          event.job().finished() ? " finished" : "")
                           : absl::StrCat("error ", event.upstream_error().message()));
        return true;
      },
      &metadata);

  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(seen, ElementsAre("job 10", "error poll", "job 100 finished"));
  EXPECT_EQ(metadata.upstream_request_id, "REQ-WatchVerifyJob");
  EXPECT_EQ(gateway_.service().watch_request().account(), "prod");
  EXPECT_EQ(gateway_.service().watch_request().job_id(), "JOB-1");
  EXPECT_EQ(gateway_.service().watch_request().iot_instance_id(), "iot-1");
}

TEST_F(ClientWorkflowCall, WatchEndingInErrorKeepsCodeMessageAndDetails) {
  absl::Status error = absl::PermissionDeniedError("not allowed");
  google::rpc::ErrorInfo info;
  info.set_reason("UPSTREAM_FORBIDDEN");
  info.set_domain(kErrorDomain);
  SetDetail(error, info);
  gateway_.service().SetWatch(
      WatchScript{{{absl::ZeroDuration(), JobEvent("JOB-1", 10, false)}}, error});
  int events = 0;

  const absl::Status status = client().WatchVerifyJob(WatchRequest(), {}, [&events](const auto&) {
    ++events;
    return true;
  });

  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(), "not allowed");
  const auto got = Detail<google::rpc::ErrorInfo>(status);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->reason(), "UPSTREAM_FORBIDDEN");
  EXPECT_EQ(events, 1);
}

TEST_F(ClientWorkflowCall, HandlerReturningFalseCancelsTheCallAndReturnsOk) {
  WatchScript script{{{absl::ZeroDuration(), JobEvent("JOB-1", 10, false)},
                      {absl::ZeroDuration(), JobEvent("JOB-1", 20, false)}},
                     absl::OkStatus()};
  script.hang = true;
  gateway_.service().SetWatch(script);
  int events = 0;

  const absl::Status status = client().WatchVerifyJob(WatchRequest(), {}, [&events](const auto&) {
    ++events;
    return false;
  });

  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(events, 1);
  // The server learns of the cancellation instead of holding the stream open.
  EXPECT_TRUE(
      gateway_.service().watch_cancelled().WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST_F(ClientWorkflowCall, DeadlineCoversTheWholeStreamNotEachMessage) {
  // A message every 20 ms for 4 s: no gap comes near the deadline, the stream as a whole does.
  WatchScript script;
  for (int i = 0; i < 200; ++i) {
    script.steps.push_back({absl::Milliseconds(20), JobEvent("JOB-1", i % 100, false)});
  }
  gateway_.service().SetWatch(script);
  CallOptions options;
  options.deadline = absl::Milliseconds(400);
  int events = 0;
  const absl::Time start = absl::Now();

  const absl::Status status =
      client().WatchVerifyJob(WatchRequest(), options, [&events](const auto&) {
        ++events;
        return true;
      });

  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GT(events, 2);
  EXPECT_LT(events, 200);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(ClientWorkflowCall, InfiniteDeadlineSendsNone) {
  gateway_.service().SetWatch(
      WatchScript{{{absl::ZeroDuration(), JobEvent("JOB-1", 100, true)}}, absl::OkStatus()});
  CallOptions options;
  options.deadline = absl::InfiniteDuration();

  const absl::Status status =
      client().WatchVerifyJob(WatchRequest(), options, [](const auto&) { return true; });

  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(gateway_.service().watch_deadline(), absl::InfiniteFuture());
}

TEST_F(ClientWorkflowCall, FiniteDeadlineReachesTheServer) {
  gateway_.service().SetWatch(
      WatchScript{{{absl::ZeroDuration(), JobEvent("JOB-1", 100, true)}}, absl::OkStatus()});
  CallOptions options;
  options.deadline = absl::Hours(1);
  const absl::Time start = absl::Now();

  ASSERT_TRUE(
      client().WatchVerifyJob(WatchRequest(), options, [](const auto&) { return true; }).ok());

  const absl::Time deadline = gateway_.service().watch_deadline();
  EXPECT_GT(deadline, start + absl::Minutes(59));
  EXPECT_LT(deadline, start + absl::Minutes(61));
}

}  // namespace
}  // namespace otaverify

// The workflow's neighbour APIs (protocol.md §7): request rules, parameters, and tolerant
// reading of every answer shape, including the upstream's spellings and numbers as strings.
#include "service/aliyun/verify_workflow.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::ErrorReason;
using ::otaverify::testing::StatusIs;
using ::otaverify::testing::ViolatedFields;
using ::testing::ElementsAre;
using ::testing::Pair;

absl::Time At(const char* text) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &error)) << error;
  return t;
}

// --- Validation ---

TEST(ValidateWorkflow, FirmwareIdIsRequired) {
  const absl::Status status = ValidateGetFirmwareVerification({});
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ErrorReason(status), "INVALID_REQUEST");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("firmware_id"));
}

TEST(ValidateWorkflow, JobIdIsRequiredAndBounded) {
  EXPECT_THAT(ViolatedFields(ValidateJobReference("", "", kQueryOTAJob)), ElementsAre("job_id"));
  EXPECT_THAT(ViolatedFields(ValidateJobReference(std::string(65, 'j'), "", kQueryOTAJob)),
              ElementsAre("job_id"));
  EXPECT_THAT(ViolatedFields(ValidateJobReference("job", std::string(65, 'i'), kQueryOTAJob)),
              ElementsAre("iot_instance_id"));
  EXPECT_TRUE(ValidateJobReference(std::string(64, 'j'), "iot-1", kQueryOTAJob).ok());
}

TEST(ValidateWorkflow, IdsMustNotHoldControlCharacters) {
  EXPECT_THAT(ViolatedFields(ValidateJobReference("job\n1", "", kQueryOTAJob)),
              ElementsAre("job_id"));
  EXPECT_THAT(ViolatedFields(ValidateJobReference("job", "iot\x7f", kQueryOTAJob)),
              ElementsAre("iot_instance_id"));
  v1::GetFirmwareVerificationRequest request;
  request.set_firmware_id(std::string("fw\0x", 4));
  EXPECT_THAT(ViolatedFields(ValidateGetFirmwareVerification(request)), ElementsAre("firmware_id"));
}

TEST(ValidateWorkflow, CancelTakesOnlyUnfinishedStatesOnce) {
  v1::CancelVerifyJobRequest request;
  request.set_job_id("job-1");
  EXPECT_TRUE(ValidateCancelVerifyJob(request).ok());
  request.add_task_states(v1::TASK_STATE_QUEUED);
  request.add_task_states(v1::TASK_STATE_SUCCEEDED);
  request.add_task_states(v1::TASK_STATE_QUEUED);
  request.add_task_states(v1::TASK_STATE_UNSPECIFIED);
  const absl::Status status = ValidateCancelVerifyJob(request);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ViolatedFields(status),
              ElementsAre("task_states[1]", "task_states[2]", "task_states[3]"));
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("TASK_STATE_SUCCEEDED"));
}

// --- Parameters ---

TEST(WorkflowCalls, PagedListsAskForTheLargestPage) {
  const RpcCall tasks = ListTasksByJobCall("job-1", "", 3);
  EXPECT_EQ(tasks.action, "ListOTATaskByJob");
  EXPECT_THAT(tasks.params, ElementsAre(Pair("JobId", "job-1"), Pair("CurrentPage", "3"),
                                        Pair("PageSize", "100")));
  const RpcCall jobs = ListJobsByFirmwareCall("fw-1", "iot-1", 1);
  EXPECT_EQ(jobs.action, "ListOTAJobByFirmware");
  EXPECT_THAT(jobs.params, ElementsAre(Pair("FirmwareId", "fw-1"), Pair("CurrentPage", "1"),
                                       Pair("PageSize", "200"), Pair("IotInstanceId", "iot-1")));
  EXPECT_THAT(QueryJobCall("job-1", "").params, ElementsAre(Pair("JobId", "job-1")));
}

TEST(WorkflowCalls, CancelDefaultsToEveryUnfinishedState) {
  v1::CancelVerifyJobRequest request;
  request.set_job_id("job-1");
  const std::vector<v1::TaskState> states = StatesToCancel(request);
  EXPECT_THAT(states, ElementsAre(v1::TASK_STATE_AWAITING_CONFIRMATION, v1::TASK_STATE_QUEUED,
                                  v1::TASK_STATE_NOTIFIED, v1::TASK_STATE_IN_PROGRESS));
  EXPECT_THAT(CancelTasksCall("job-1", "", states).params,
              ElementsAre(Pair("JobId", "job-1"), Pair("CancelUnconfirmedTask", "true"),
                          Pair("CancelQueuedTask", "true"), Pair("CancelNotifiedTask", "true"),
                          Pair("CancelInProgressTask", "true")));
}

TEST(WorkflowCalls, CancelSendsTheChosenStatesAndFalseForTheRest) {
  v1::CancelVerifyJobRequest request;
  request.set_job_id("job-1");
  request.add_task_states(v1::TASK_STATE_IN_PROGRESS);
  request.add_task_states(v1::TASK_STATE_QUEUED);
  const std::vector<v1::TaskState> states = StatesToCancel(request);
  EXPECT_THAT(states, ElementsAre(v1::TASK_STATE_QUEUED, v1::TASK_STATE_IN_PROGRESS));
  EXPECT_THAT(CancelTasksCall("job-1", "iot-1", states).params,
              ElementsAre(Pair("JobId", "job-1"), Pair("CancelUnconfirmedTask", "false"),
                          Pair("CancelQueuedTask", "true"), Pair("CancelNotifiedTask", "false"),
                          Pair("CancelInProgressTask", "true"), Pair("IotInstanceId", "iot-1")));
}

// --- Paging ---

TEST(NeedAnotherPage, FollowsPageCountThenTotalAndStopsOnEmpty) {
  // 10 tasks served 3 per page: pages 1..4.
  EXPECT_TRUE(NeedAnotherPage({3, 10, 4}, 1, 3));
  EXPECT_TRUE(NeedAnotherPage({3, 10, 4}, 3, 9));
  EXPECT_FALSE(NeedAnotherPage({1, 10, 4}, 4, 10));
  // No PageCount: Total decides.
  EXPECT_TRUE(NeedAnotherPage({3, 10, 0}, 1, 3));
  EXPECT_FALSE(NeedAnotherPage({1, 10, 0}, 4, 10));
  // An empty page ends the list whatever the counts say.
  EXPECT_FALSE(NeedAnotherPage({0, 10, 4}, 2, 3));
  EXPECT_TRUE(NeedAnotherPage({3, 1000, 400}, 20, 60));
}

// --- QueryOTAFirmware ---

TEST(ParseFirmwareVerification, ReadsEveryStatus) {
  const struct {
    int status;
    v1::VerificationState state;
  } cases[] = {{-1, v1::VERIFICATION_STATE_NOT_REQUIRED}, {0, v1::VERIFICATION_STATE_UNVERIFIED},
               {1, v1::VERIFICATION_STATE_VERIFIED},      {2, v1::VERIFICATION_STATE_VERIFYING},
               {3, v1::VERIFICATION_STATE_FAILED},        {7, v1::VERIFICATION_STATE_UNSPECIFIED}};
  for (const auto& c : cases) {
    // Status as a string, as some answers send numbers.
    const std::string body = absl::StrCat(
        R"({"RequestId":"R1","Success":true,"FirmwareInfo":{"FirmwareId":"fw-1",)",
        R"("FirmwareName":"app","ProductKey":"pk","SrcVersion":"1.0","DestVersion":"1.1",)",
        R"("Status":")", c.status, R"(","VerifyProgress":"40","Unknown":null}})");
    absl::StatusOr<v1::FirmwareVerification> parsed = ParseFirmwareVerification(body);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->state(), c.state) << c.status;
    EXPECT_EQ(parsed->upstream_status(), c.status);
    EXPECT_EQ(parsed->progress_percent(), 40);
    EXPECT_EQ(parsed->firmware_name(), "app");
    EXPECT_EQ(parsed->dest_version(), "1.1");
    EXPECT_EQ(parsed->upstream_request_id(), "R1");
  }
}

TEST(ParseFirmwareVerification, RejectsWhatIsNotTheDocumentedJson) {
  EXPECT_THAT(ParseFirmwareVerification("<html>").status(), StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(ParseFirmwareVerification(R"({"RequestId":"R1","Success":true})").status(),
              StatusIs(absl::StatusCode::kInternal));
}

// --- ListOTAJobByFirmware ---

constexpr char kJobPage[] = R"({"RequestId":"R2","Success":true,"Total":4,"PageCount":2,
  "CurrentPage":1,"PageSize":3,"Data":{"SimpleOTAJobInfo":[
  {"JobId":"up-1","JobType":"UPGRADE_FIRMWARE","JobStatus":"IN_PROGRESS",
   "UtcCreate":"2026-01-01T00:00:09.000Z"},
  {"JobId":"v-old","JobType":"VERFIY_FIRMWARE","JobStatus":"CANCELED",
   "UtcCreate":"2026-01-01T00:00:01.000Z"},
  {"JobId":"v-new","JobType":"VERIFY_FIRMWARE","JobStatus":"IN_PROGRESS",
   "UtcCreate":"2026-01-01T00:00:05.500Z"}]}})";

TEST(ParseFirmwareJobPage, ReadsJobsAndPaging) {
  std::vector<FirmwareJob> jobs;
  absl::StatusOr<PageInfo> page = ParseFirmwareJobPage(kJobPage, &jobs);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->items, 3);
  EXPECT_EQ(page->total, 4);
  EXPECT_EQ(page->page_count, 2);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_FALSE(jobs[0].verify);
  EXPECT_TRUE(jobs[1].verify);  // the API's own spelling, VERFIY
  EXPECT_TRUE(jobs[2].verify);
  EXPECT_EQ(jobs[1].state, v1::VERIFY_JOB_STATE_CANCELED);
  EXPECT_EQ(jobs[2].create_time, At("2026-01-01T00:00:05.5Z"));
  EXPECT_EQ(jobs[2].request_id, "R2");
}

TEST(ParseFirmwareJobPage, NewestAndActiveVerifyJobs) {
  std::vector<FirmwareJob> jobs;
  ASSERT_TRUE(ParseFirmwareJobPage(kJobPage, &jobs).ok());
  // Upgrade jobs never count, however new.
  ASSERT_TRUE(NewestVerifyJob(jobs).has_value());
  EXPECT_EQ(NewestVerifyJob(jobs)->job_id, "v-new");
  EXPECT_EQ(ActiveVerifyJob(jobs)->job_id, "v-new");
  EXPECT_FALSE(NewestVerifyJob(jobs, At("2026-01-01T00:00:06Z")).has_value());
  EXPECT_EQ(NewestVerifyJob(jobs, At("2026-01-01T00:00:05Z"))->job_id, "v-new");
  jobs[2].state = v1::VERIFY_JOB_STATE_COMPLETED;
  EXPECT_FALSE(ActiveVerifyJob(jobs).has_value());
}

// --- QueryOTAJob ---

TEST(ParseVerifyJob, ReadsTheDocumentedShape) {
  const char body[] = R"({"RequestId":"R3","Success":true,"Data":{"JobId":"job-1",
    "JobType":"VERFIY_FIRMWARE","JobStatus":"COMPLETE","FirmwareId":"fw-1","ProductKey":"pk",
    "DestVersion":"1.1","TimeoutInMinutes":"30","NeedPush":true,"NeedConfirm":false,
    "DownloadProtocol":"MQTT","Tags":{"OtaTagDTO":[{"Key":"env","Value":"lab"}]},
    "UtcCreate":"2026-01-01T00:00:00.000Z","UtcModified":"2026-01-01T00:01:00.000Z",
    "UtcStartTime":"2026-01-01T00:00:00.000Z","UtcEndTime":"2026-01-01T00:02:00.250Z",
    "SelectionType":"STATIC"}})";
  absl::StatusOr<v1::VerifyJob> job = ParseVerifyJob(body);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->job_id(), "job-1");
  EXPECT_EQ(job->state(), v1::VERIFY_JOB_STATE_COMPLETED);  // COMPLETE accepted
  EXPECT_EQ(job->upstream_job_status(), "COMPLETE");
  EXPECT_EQ(job->timeout_in_minutes(), 30);
  EXPECT_EQ(job->download_protocol(), v1::DOWNLOAD_PROTOCOL_MQTT);
  ASSERT_EQ(job->tags_size(), 1);
  EXPECT_EQ(job->tags(0).key(), "env");
  EXPECT_EQ(job->tags(0).value(), "lab");
  EXPECT_EQ(google::protobuf::util::TimeUtil::ToString(job->end_time()),
            "2026-01-01T00:02:00.250Z");
  EXPECT_FALSE(job->finished());  // set by the reader once tasks are known
}

TEST(ParseVerifyJob, RefusesAnUpgradeJob) {
  const absl::Status status =
      ParseVerifyJob(
          R"({"RequestId":"R3","Success":true,"Data":{"JobId":"up-1","JobType":"UPGRADE_FIRMWARE",
         "JobStatus":"IN_PROGRESS"}})")
          .status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ErrorReason(status), "NOT_A_VERIFY_JOB");
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("UPGRADE_FIRMWARE"));
}

TEST(ParseVerifyJob, ToleratesMissingAndNullFields) {
  absl::StatusOr<v1::VerifyJob> job = ParseVerifyJob(
      R"({"RequestId":"R3","Success":true,"Data":{"JobId":"job-1","JobStatus":"WHATEVER",
         "Tags":null,"TimeoutInMinutes":null,"UtcEndTime":""}})");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::VERIFY_JOB_STATE_UNSPECIFIED);
  EXPECT_EQ(job->upstream_job_status(), "WHATEVER");
  EXPECT_FALSE(job->has_timeout_in_minutes());
  EXPECT_FALSE(job->has_end_time());
  EXPECT_TRUE(job->need_push());  // the upstream default when not said
  EXPECT_THAT(ParseVerifyJob(R"({"RequestId":"R3","Data":{}})").status(),
              StatusIs(absl::StatusCode::kInternal));
}

// --- ListOTATaskByJob ---

TEST(ParseTaskPage, ReadsTasksWithProgressAsString) {
  const char body[] = R"({"RequestId":"R4","Success":true,"Total":"10","PageSize":3,
    "PageCount":4,"CurrentPage":1,"Data":{"SimpleOTATaskInfo":[
    {"TaskId":"t1","DeviceName":"d1","IotId":"i1","TaskStatus":"SUCCEEDED","Progress":"100.00"},
    {"TaskId":"t2","DeviceName":"d2","TaskStatus":"FAILED","Progress":"42.50",
     "TaskDesc":"checksum mismatch","Timeout":"5","UtcModified":"2026-01-01T00:00:07.000Z"},
    {"TaskId":"t3","DeviceName":"d3","TaskStatus":"CONFIRM","Progress":7},
    {"TaskId":"t4","DeviceName":"d4","TaskStatus":"QUEUED","Progress":"NaN"}]}})";
  v1::VerifyJob job;
  absl::StatusOr<PageInfo> page = ParseTaskPage(body, &job);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->items, 4);
  EXPECT_EQ(page->total, 10);
  EXPECT_EQ(page->page_count, 4);
  ASSERT_EQ(job.tasks_size(), 4);
  EXPECT_EQ(job.tasks(0).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_DOUBLE_EQ(job.tasks(0).progress_percent(), 100.0);
  EXPECT_EQ(job.tasks(1).state(), v1::TASK_STATE_FAILED);
  EXPECT_DOUBLE_EQ(job.tasks(1).progress_percent(), 42.5);
  EXPECT_EQ(job.tasks(1).description(), "checksum mismatch");
  EXPECT_EQ(google::protobuf::util::TimeUtil::ToString(job.tasks(1).modify_time()),
            "2026-01-01T00:00:07Z");
  EXPECT_EQ(job.tasks(2).state(), v1::TASK_STATE_AWAITING_CONFIRMATION);
  EXPECT_DOUBLE_EQ(job.tasks(2).progress_percent(), 7.0);  // a number is read too
  EXPECT_DOUBLE_EQ(job.tasks(3).progress_percent(), 0.0);  // NaN is no progress
}

TEST(TaskStateFromUpstream, EverySevenValues) {
  EXPECT_EQ(TaskStateFromUpstream("CONFIRM"), v1::TASK_STATE_AWAITING_CONFIRMATION);
  EXPECT_EQ(TaskStateFromUpstream("QUEUED"), v1::TASK_STATE_QUEUED);
  EXPECT_EQ(TaskStateFromUpstream("NOTIFIED"), v1::TASK_STATE_NOTIFIED);
  EXPECT_EQ(TaskStateFromUpstream("IN_PROGRESS"), v1::TASK_STATE_IN_PROGRESS);
  EXPECT_EQ(TaskStateFromUpstream("SUCCEEDED"), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(TaskStateFromUpstream("FAILED"), v1::TASK_STATE_FAILED);
  EXPECT_EQ(TaskStateFromUpstream("CANCELED"), v1::TASK_STATE_CANCELED);
  EXPECT_EQ(TaskStateFromUpstream("PAUSED"), v1::TASK_STATE_UNSPECIFIED);
}

TEST(VerifyJobFinished, CompletedNeedsEveryTaskEnded) {
  v1::VerifyJob job;
  job.set_state(v1::VERIFY_JOB_STATE_COMPLETED);
  job.add_tasks()->set_state(v1::TASK_STATE_SUCCEEDED);
  job.add_tasks()->set_state(v1::TASK_STATE_IN_PROGRESS);
  EXPECT_FALSE(VerifyJobFinished(job));
  job.mutable_tasks(1)->set_state(v1::TASK_STATE_FAILED);
  EXPECT_TRUE(VerifyJobFinished(job));
  job.set_state(v1::VERIFY_JOB_STATE_IN_PROGRESS);
  EXPECT_FALSE(VerifyJobFinished(job));
  job.mutable_tasks(1)->set_state(v1::TASK_STATE_QUEUED);
  job.set_state(v1::VERIFY_JOB_STATE_CANCELED);
  EXPECT_TRUE(VerifyJobFinished(job));  // canceled ends the job whatever its tasks say
  // A task state the gateway does not know cannot be waited for once the job completed.
  job.set_state(v1::VERIFY_JOB_STATE_COMPLETED);
  job.mutable_tasks(1)->set_state(v1::TASK_STATE_UNSPECIFIED);
  EXPECT_TRUE(VerifyJobFinished(job));
}

}  // namespace
}  // namespace otaverify

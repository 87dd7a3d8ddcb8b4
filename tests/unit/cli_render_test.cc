// Tests of the verify-workflow renderings (cli_render.h): pure functions, pinned time and width.
#include "client/cli_render.h"

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/cli_output.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

const absl::Time kNoon = absl::FromUnixSeconds(1716206401);  // 2024-05-20 12:00:01 UTC
const absl::TimeZone kUtc = absl::UTCTimeZone();

v1::DeviceTask Task(const std::string& device, v1::TaskState state, double progress,
                    const std::string& description = "") {
  v1::DeviceTask task;
  task.set_task_id("T-" + device);
  task.set_device_name(device);
  task.set_state(state);
  task.set_progress_percent(progress);
  task.set_description(description);
  return task;
}

// Three devices in the upstream's order: one done, one under way, one failed.
v1::VerifyJob SampleJob() {
  v1::VerifyJob job;
  job.set_job_id("JOB-1");
  job.set_state(v1::VERIFY_JOB_STATE_IN_PROGRESS);
  *job.add_tasks() = Task("demo-device-1", v1::TASK_STATE_SUCCEEDED, 100);
  *job.add_tasks() = Task("demo-device-2", v1::TASK_STATE_IN_PROGRESS, 40);
  *job.add_tasks() =
      Task("demo-device-fail", v1::TASK_STATE_FAILED, 30, "checksum mismatch after download");
  return job;
}

const std::vector<std::string> kSampleTable = {
    "DEVICE            STATE        PROGRESS                     DESCRIPTION",
    "demo-device-1     SUCCEEDED    [####################] 100%",
    "demo-device-2     IN_PROGRESS  [########------------]  40%",
    "demo-device-fail  FAILED       [######--------------]  30%  checksum mismatch after download",
};

TEST(CliRender, ProgressBarRoundsDownAndClamps) {
  EXPECT_EQ(ProgressBar(50), "[##########----------]  50%");
  EXPECT_EQ(ProgressBar(0), "[--------------------]   0%");
  EXPECT_EQ(ProgressBar(100), "[####################] 100%");
  EXPECT_EQ(ProgressBar(99.9), "[###################-]  99%");
  EXPECT_EQ(ProgressBar(42.5), "[########------------]  42%");
  EXPECT_EQ(ProgressBar(-3), "[--------------------]   0%");
  EXPECT_EQ(ProgressBar(250), "[####################] 100%");
  EXPECT_EQ(ProgressBar(50, 4), "[##--]  50%");
}

TEST(CliRender, StateNamesDropTheirEnumPrefix) {
  EXPECT_EQ(TaskStateName(v1::TASK_STATE_IN_PROGRESS), "IN_PROGRESS");
  EXPECT_EQ(TaskStateName(v1::TASK_STATE_AWAITING_CONFIRMATION), "AWAITING_CONFIRMATION");
  EXPECT_EQ(VerifyJobStateName(v1::VERIFY_JOB_STATE_CANCELED), "CANCELED");
  EXPECT_EQ(VerificationStateName(v1::VERIFICATION_STATE_VERIFIED), "VERIFIED");
  EXPECT_EQ(VerificationStateName(v1::VERIFICATION_STATE_NOT_REQUIRED), "NOT_REQUIRED");
}

TEST(CliRender, UnknownEnumNumberIsShownAsTheNumber) {
  EXPECT_EQ(TaskStateName(static_cast<v1::TaskState>(42)), "42");
}

TEST(CliRender, UnspecifiedStateShowsTheUpstreamSpelling) {
  v1::DeviceTask task = Task("d", v1::TASK_STATE_UNSPECIFIED, 0);
  task.set_upstream_task_status("PAUSED");
  EXPECT_EQ(TaskStateDisplay(task), "PAUSED");
  v1::VerifyJob job;
  job.set_upstream_job_status("ARCHIVED");
  EXPECT_EQ(JobStateDisplay(job), "ARCHIVED");
  v1::FirmwareVerification firmware;
  firmware.set_upstream_status(7);
  EXPECT_EQ(VerificationStateDisplay(firmware), "UNSPECIFIED (upstream status 7)");
  // Known states keep the gateway's name even when the raw status is there too.
  task.set_state(v1::TASK_STATE_QUEUED);
  EXPECT_EQ(TaskStateDisplay(task), "QUEUED");
}

TEST(CliRender, TaskCountsListFinishedStatesFirstAndSkipZeros) {
  EXPECT_EQ(TaskCounts(SampleJob()), "3 devices: 1 succeeded, 1 failed, 1 in_progress");
  v1::VerifyJob one;
  *one.add_tasks() = Task("d", v1::TASK_STATE_QUEUED, 0);
  EXPECT_EQ(TaskCounts(one), "1 device: 1 queued");
  EXPECT_EQ(TaskCounts(v1::VerifyJob()), "0 devices");
}

TEST(CliRender, DeviceTableKeepsUpstreamOrderAndAlignsColumns) {
  EXPECT_EQ(DeviceTableLines(SampleJob(), 0), kSampleTable);
}

TEST(CliRender, DeviceTableLinesFitTheWidth) {
  const std::vector<std::string> lines = DeviceTableLines(SampleJob(), 60);
  ASSERT_THAT(lines, SizeIs(4));
  for (const std::string& line : lines) EXPECT_LE(line.size(), 60u) << line;
  // 59 columns kept, the 60th marks the cut.
  EXPECT_EQ(lines[3], "demo-device-fail  FAILED       [######--------------]  30% ~");
  EXPECT_EQ(lines[1], kSampleTable[1]);  // short enough already
}

TEST(CliRender, FitToWidthCutsAtCodePoints) {
  EXPECT_EQ(FitToWidth("abcdef", 4), "abc~");
  EXPECT_EQ(FitToWidth("abcd", 4), "abcd");
  EXPECT_EQ(FitToWidth("abcdef", 0), "abcdef");
  // Four code points of three bytes each: cut between code points, never inside one.
  EXPECT_EQ(FitToWidth("\xe6\xa0\xa1\xe9\xaa\x8c\xe5\xa4\xb1\xe8\xb4\xa5", 3),
            "\xe6\xa0\xa1\xe9\xaa\x8c~");
}

TEST(CliRender, LiveFrameHasHeaderCountsTableAndWarning) {
  const std::vector<std::string> lines =
      LiveFrameLines(SampleJob(), "warning: poll failed", kNoon, kUtc, 0);
  std::vector<std::string> expected = {
      "job JOB-1  IN_PROGRESS  updated 12:00:01",
      "3 devices: 1 succeeded, 1 failed, 1 in_progress",
      "",
  };
  expected.insert(expected.end(), kSampleTable.begin(), kSampleTable.end());
  expected.push_back("warning: poll failed");
  EXPECT_EQ(lines, expected);
}

TEST(CliRender, LiveFrameMarksAFinishedJobAndFitsTheWidth) {
  v1::VerifyJob job = SampleJob();
  job.set_state(v1::VERIFY_JOB_STATE_COMPLETED);
  job.set_finished(true);
  const std::vector<std::string> lines = LiveFrameLines(job, "", kNoon, kUtc, 30);
  EXPECT_EQ(lines[0], "job JOB-1  COMPLETED (finishe~");
  EXPECT_THAT(lines, SizeIs(7));  // header, counts, blank, table of 4; no warning line
  for (const std::string& line : lines) EXPECT_LE(line.size(), 30u) << line;
}

TEST(CliRender, RedrawMovesUpOverThePreviousFrameAndClearsBelow) {
  EXPECT_EQ(RedrawFrame(0, {"a", "b"}), "a\x1b[K\nb\x1b[K\n\x1b[J");
  EXPECT_EQ(RedrawFrame(2, {"c"}), "\r\x1b[2Ac\x1b[K\n\x1b[J");
}

TEST(CliRender, FirstSnapshotListsTheJobAndEveryDevice) {
  EXPECT_THAT(
      ChangeLines(nullptr, SampleJob(), kNoon, kUtc),
      ElementsAre("12:00:01 job JOB-1 IN_PROGRESS, 3 devices",
                  "12:00:01 demo-device-1 SUCCEEDED 100%", "12:00:01 demo-device-2 IN_PROGRESS 40%",
                  "12:00:01 demo-device-fail FAILED 30% - checksum mismatch after download"));
}

TEST(CliRender, LaterSnapshotsListOnlyWhatChanged) {
  const v1::VerifyJob before = SampleJob();
  v1::VerifyJob after = before;
  after.mutable_tasks(1)->set_progress_percent(40.7);  // same whole percent: no line
  EXPECT_THAT(ChangeLines(&before, after, kNoon, kUtc), ::testing::IsEmpty());

  after.mutable_tasks(1)->set_progress_percent(100);
  after.mutable_tasks(1)->set_state(v1::TASK_STATE_SUCCEEDED);
  after.set_state(v1::VERIFY_JOB_STATE_COMPLETED);
  EXPECT_THAT(ChangeLines(&before, after, kNoon + absl::Seconds(8), kUtc),
              ElementsAre("12:00:09 job JOB-1 COMPLETED", "12:00:09 demo-device-2 SUCCEEDED 100%"));
}

TEST(CliRender, ChangedDescriptionIsAChange) {
  const v1::VerifyJob before = SampleJob();
  v1::VerifyJob after = before;
  after.mutable_tasks(1)->set_description("downloading");
  EXPECT_THAT(ChangeLines(&before, after, kNoon, kUtc),
              ElementsAre("12:00:01 demo-device-2 IN_PROGRESS 40% - downloading"));
}

TEST(CliRender, SummaryLineGivesFinalStateAndCounts) {
  v1::VerifyJob job = SampleJob();
  job.set_state(v1::VERIFY_JOB_STATE_COMPLETED);
  EXPECT_EQ(SummaryLine(job, kNoon, kUtc),
            "12:00:01 done: job JOB-1 COMPLETED, 3 devices: 1 succeeded, 1 failed, 1 in_progress");
}

TEST(CliRender, TimesFollowTheGivenZone) {
  absl::TimeZone shanghai;
  ASSERT_TRUE(absl::LoadTimeZone("Asia/Shanghai", &shanghai));
  EXPECT_EQ(SummaryLine(v1::VerifyJob(), kNoon, shanghai).substr(0, 8), "20:00:01");
}

TEST(CliRender, FirmwareVerificationText) {
  v1::FirmwareVerification firmware;
  firmware.set_firmware_id("FW1");
  firmware.set_firmware_name("demo");
  firmware.set_product_key("a1PK");
  firmware.set_src_version("1.0.0");
  firmware.set_dest_version("2.0.0");
  firmware.set_state(v1::VERIFICATION_STATE_VERIFYING);
  firmware.set_progress_percent(40);
  firmware.set_verify_job_id("JOB-1");
  firmware.set_verify_job_state(v1::VERIFY_JOB_STATE_IN_PROGRESS);
  firmware.set_upstream_request_id("REQ-1");
  EXPECT_EQ(FormatFirmwareVerification(firmware),
            "firmware_id: FW1\n"
            "firmware_name: demo\n"
            "product_key: a1PK\n"
            "versions: 1.0.0 -> 2.0.0\n"
            "state: VERIFYING\n"
            "progress: [########------------]  40%\n"
            "verify_job_id: JOB-1\n"
            "verify_job_state: IN_PROGRESS\n"
            "upstream_request_id: REQ-1\n");
}

TEST(CliRender, FirmwareWithoutJobSaysNone) {
  v1::FirmwareVerification firmware;
  firmware.set_firmware_id("FW1");
  firmware.set_state(v1::VERIFICATION_STATE_NOT_REQUIRED);
  EXPECT_EQ(FormatFirmwareVerification(firmware),
            "firmware_id: FW1\n"
            "versions: any -> ?\n"
            "state: NOT_REQUIRED\n"
            "progress: [--------------------]   0%\n"
            "verify_job: none\n");
}

TEST(CliRender, VerifyJobTextShowsSettingsTagsAndDeviceTable) {
  v1::VerifyJob job = SampleJob();
  job.set_firmware_id("FW1");
  job.set_product_key("a1PK");
  job.set_dest_version("2.0.0");
  job.mutable_create_time()->set_seconds(1716193800);
  job.mutable_start_time()->set_seconds(1716193805);
  job.set_timeout_in_minutes(30);
  job.set_need_push(true);
  job.set_download_protocol(v1::DOWNLOAD_PROTOCOL_MQTT);
  v1::Tag* tag = job.add_tags();
  tag->set_key("env");
  tag->set_value("lab");
  std::string expected =
      "job_id: JOB-1\n"
      "state: IN_PROGRESS\n"
      "finished: false\n"
      "firmware_id: FW1\n"
      "product_key: a1PK\n"
      "dest_version: 2.0.0\n"
      "create_time: 2024-05-20T08:30:00Z\n"
      "start_time: 2024-05-20T08:30:05Z\n"
      "timeout_in_minutes: 30\n"
      "need_push: true\n"
      "need_confirm: false\n"
      "download_protocol: MQTT\n"
      "tags: env=lab\n"
      "devices: 3 devices: 1 succeeded, 1 failed, 1 in_progress\n"
      "\n" +
      absl::StrJoin(kSampleTable, "\n") + "\n";
  EXPECT_EQ(FormatVerifyJob(job), expected);
}

TEST(CliRender, VerifyJobTextWithoutOptionalSettings) {
  v1::VerifyJob job;
  job.set_job_id("JOB-2");
  job.set_state(v1::VERIFY_JOB_STATE_CANCELED);
  job.set_finished(true);
  EXPECT_EQ(FormatVerifyJob(job),
            "job_id: JOB-2\n"
            "state: CANCELED\n"
            "finished: true\n"
            "timeout_in_minutes: none\n"
            "need_push: false\n"
            "need_confirm: false\n"
            "download_protocol: default\n"
            "tags: none\n"
            "devices: 0 devices\n"
            "\n"
            "DEVICE  STATE  PROGRESS                     DESCRIPTION\n");
}

TEST(CliRender, CancelResultNamesTheStates) {
  v1::CancelVerifyJobResponse response;
  response.add_canceled_states(v1::TASK_STATE_QUEUED);
  response.add_canceled_states(v1::TASK_STATE_IN_PROGRESS);
  response.set_upstream_request_id("REQ-C");
  EXPECT_EQ(FormatCancelVerifyJobResult(response),
            "canceled tasks in states: QUEUED, IN_PROGRESS\nupstream_request_id: REQ-C\n");
}

TEST(CliRender, UpstreamErrorTextNamesCodeReasonAndRequestId) {
  absl::Status error = absl::UnavailableError("upstream timed out");
  google::rpc::ErrorInfo info;
  info.set_reason("UPSTREAM_UNREACHABLE");
  info.set_domain(kErrorDomain);
  (*info.mutable_metadata())["upstream_request_id"] = "REQ-5";
  SetDetail(error, info);
  EXPECT_EQ(UpstreamErrorText(ToRpcStatus(error)),
            "UNAVAILABLE: upstream timed out [UPSTREAM_UNREACHABLE] (upstream_request_id: REQ-5)");
  EXPECT_EQ(UpstreamErrorText(ToRpcStatus(absl::InternalError("x"))), "INTERNAL: x");
}

v1::FirmwareVerification Firmware(v1::VerificationState state) {
  v1::FirmwareVerification firmware;
  firmware.set_firmware_id("FW1");
  firmware.set_src_version("1.0.0");
  firmware.set_dest_version("2.0.0");
  firmware.set_state(state);
  firmware.set_progress_percent(100);
  return firmware;
}

TEST(CliVerdict, VerifiedFirmwareExitsZero) {
  v1::VerifyJob job = SampleJob();
  job.mutable_tasks(2)->set_state(v1::TASK_STATE_SUCCEEDED);
  job.mutable_tasks(1)->set_state(v1::TASK_STATE_SUCCEEDED);
  job.set_state(v1::VERIFY_JOB_STATE_COMPLETED);
  const Verdict verdict = DecideVerdict(Firmware(v1::VERIFICATION_STATE_VERIFIED), &job);
  EXPECT_EQ(verdict.exit_status, 0);
  EXPECT_THAT(verdict.lines,
              ElementsAre("verdict: VERIFIED", "firmware: FW1 1.0.0 -> 2.0.0, progress 100%",
                          "job: JOB-1 COMPLETED, 3 devices: 3 succeeded"));
}

TEST(CliVerdict, FailedFirmwareExitsTwentyAndNamesTheFailingDevice) {
  v1::VerifyJob job = SampleJob();
  job.mutable_tasks(1)->set_state(v1::TASK_STATE_SUCCEEDED);
  job.set_state(v1::VERIFY_JOB_STATE_COMPLETED);
  const Verdict verdict = DecideVerdict(Firmware(v1::VERIFICATION_STATE_FAILED), &job);
  EXPECT_EQ(verdict.exit_status, kVerificationFailedExitCode);
  EXPECT_EQ(verdict.exit_status, 20);
  EXPECT_THAT(verdict.lines,
              ElementsAre("verdict: FAILED", "firmware: FW1 1.0.0 -> 2.0.0, progress 100%",
                          "job: JOB-1 COMPLETED, 3 devices: 2 succeeded, 1 failed",
                          "demo-device-fail FAILED: checksum mismatch after download"));
}

TEST(CliVerdict, CanceledJobIsNotSuccessAndListsEveryUnfinishedDevice) {
  v1::VerifyJob job;
  job.set_job_id("JOB-1");
  job.set_state(v1::VERIFY_JOB_STATE_CANCELED);
  *job.add_tasks() = Task("a", v1::TASK_STATE_SUCCEEDED, 100);
  *job.add_tasks() = Task("b", v1::TASK_STATE_CANCELED, 0, "canceled by user");
  *job.add_tasks() = Task("c", v1::TASK_STATE_QUEUED, 0);
  const Verdict verdict = DecideVerdict(Firmware(v1::VERIFICATION_STATE_UNVERIFIED), &job);
  EXPECT_EQ(verdict.exit_status, kVerificationFailedExitCode);
  EXPECT_EQ(verdict.lines[0], "verdict: UNVERIFIED");
  EXPECT_THAT(verdict.lines, ::testing::Contains("b CANCELED: canceled by user"));
  EXPECT_THAT(verdict.lines, ::testing::Contains("c QUEUED: (no description)"));
}

TEST(CliVerdict, StillVerifyingWithoutJobIsNotSuccess) {
  const Verdict verdict = DecideVerdict(Firmware(v1::VERIFICATION_STATE_VERIFYING), nullptr);
  EXPECT_EQ(verdict.exit_status, kVerificationFailedExitCode);
  EXPECT_THAT(verdict.lines,
              ElementsAre("verdict: VERIFYING", "firmware: FW1 1.0.0 -> 2.0.0, progress 100%"));
}

}  // namespace
}  // namespace otaverify

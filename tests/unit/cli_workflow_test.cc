// Tests of the verify-workflow subcommands (cli_workflow.h): request building from flags, the
// watch output modes, WatchPrinter, and the commands run in-process against a fake OtaVerify
// service on 127.0.0.1:0.
#include "client/cli_workflow.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/cli.h"
#include "client/cli_output.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "service/status/rich_status.h"
#include "tests/unit/client_fake_ota_verify.h"

namespace otaverify {
namespace {

using ::otaverify::testing::FakeGateway;
using ::otaverify::testing::WatchScript;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const absl::Time kNoon = absl::FromUnixSeconds(1716206401);  // 2024-05-20 12:00:01 UTC

const CliCommand& Command(absl::string_view name) {
  for (const CliCommand& command : CliCommands()) {
    if (command.name == name) return command;
  }
  ADD_FAILURE() << "no command " << name;
  return CliCommands().front();
}

absl::StatusOr<CliFlags> Parse(absl::string_view command, const std::vector<std::string>& args) {
  return ParseCliFlags(Command(command).flags, args);
}

// --- Requests from flags ---

TEST(CliWorkflowRequest, StatesParseCommaSeparatedRepeatedAndAnyCase) {
  const auto flags = Parse("cancel", {"--job_id", "JOB-1", "--states", "queued,IN_PROGRESS",
                                      "--states=task_state_awaiting_confirmation"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  const auto request = BuildCancelVerifyJobRequest(*flags);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->job_id(), "JOB-1");
  EXPECT_THAT(request->task_states(), ElementsAre(v1::TASK_STATE_QUEUED, v1::TASK_STATE_IN_PROGRESS,
                                                  v1::TASK_STATE_AWAITING_CONFIRMATION));
}

TEST(CliWorkflowRequest, NoStatesLeavesTaskStatesEmptyForEveryUnfinishedTask) {
  const auto flags =
      Parse("cancel", {"--job_id", "JOB-1", "--account", "prod", "--iot_instance_id", "iot-1"});
  ASSERT_TRUE(flags.ok());
  const auto request = BuildCancelVerifyJobRequest(*flags);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(request->task_states(), IsEmpty());
  EXPECT_EQ(request->account(), "prod");
  EXPECT_EQ(request->iot_instance_id(), "iot-1");
}

TEST(CliWorkflowRequest, BadStateIsAnErrorNamingTheFlag) {
  for (const std::string value : {"queud", "succeeded", "queued,", "notified,,queued"}) {
    const auto states = ParseTaskStates({value});
    EXPECT_EQ(states.status().code(), absl::StatusCode::kInvalidArgument) << value;
    EXPECT_THAT(states.status().message(), HasSubstr("--states")) << value;
  }
  EXPECT_THAT(ParseTaskStates({"queud"}).status().message(), HasSubstr("\"queud\""));
}

TEST(CliWorkflowRequest, DuplicateStatesAreLeftToTheGateway) {
  const auto states = ParseTaskStates({"queued,queued"});
  ASSERT_TRUE(states.ok());
  EXPECT_THAT(*states, ElementsAre(v1::TASK_STATE_QUEUED, v1::TASK_STATE_QUEUED));
}

TEST(CliWorkflowRequest, StatusJobAndWatchRequestsCarryTheirFlags) {
  const auto status =
      Parse("status", {"--firmware_id", "FW1", "--account", "prod", "--iot_instance_id", "iot-1"});
  ASSERT_TRUE(status.ok());
  const v1::GetFirmwareVerificationRequest firmware = BuildGetFirmwareVerificationRequest(*status);
  EXPECT_EQ(firmware.firmware_id(), "FW1");
  EXPECT_EQ(firmware.account(), "prod");
  EXPECT_EQ(firmware.iot_instance_id(), "iot-1");

  const auto job = Parse("job", {"--job_id=JOB-1", "--account=prod"});
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(BuildGetVerifyJobRequest(*job).job_id(), "JOB-1");
  EXPECT_EQ(BuildGetVerifyJobRequest(*job).account(), "prod");

  const auto watch = Parse("watch", {"--job_id", "JOB-2", "--iot_instance_id", "iot-2"});
  ASSERT_TRUE(watch.ok());
  EXPECT_EQ(BuildWatchVerifyJobRequest(*watch).job_id(), "JOB-2");
  EXPECT_EQ(BuildWatchVerifyJobRequest(*watch).iot_instance_id(), "iot-2");
}

TEST(CliWorkflowRequest, VerifyTakesTheCreateFlagsAndReturnExisting) {
  const auto flags =
      Parse("verify", {"--product_key", "a1PK", "--firmware_id", "FW1", "--device", "D1",
                       "--device", "D2", "--tag", "k=v", "--need_push=false", "--return_existing"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  const auto request = BuildCreateVerifyJobRequest(*flags);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->product_key(), "a1PK");
  EXPECT_THAT(request->target_device_names(), ElementsAre("D1", "D2"));
  EXPECT_EQ(request->tags(0).value(), "v");
  ASSERT_TRUE(request->has_need_push());
  EXPECT_FALSE(request->need_push());
  EXPECT_TRUE(request->return_existing());
}

TEST(CliWorkflowRequest, CreateDoesNotTakeReturnExisting) {
  EXPECT_EQ(Parse("create", {"--return_existing"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const auto flags = Parse("verify", {});
  ASSERT_TRUE(flags.ok());
  EXPECT_FALSE(BuildCreateVerifyJobRequest(*flags)->return_existing());
}

TEST(CliWorkflowRequest, WatchAndVerifyDefaultToAnHourDeadlineOthersToTenSeconds) {
  for (const char* name : {"watch", "verify"}) {
    const auto flags = Parse(name, {});
    ASSERT_TRUE(flags.ok());
    EXPECT_EQ(BuildCallOptions(*flags).deadline, absl::Hours(1)) << name;
  }
  for (const char* name : {"status", "job", "cancel"}) {
    const auto flags = Parse(name, {});
    ASSERT_TRUE(flags.ok());
    EXPECT_EQ(BuildCallOptions(*flags).deadline, absl::Seconds(10)) << name;
  }
  const auto given = Parse("watch", {"--deadline", "90s"});
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(BuildCallOptions(*given).deadline, absl::Seconds(90));
}

TEST(CliWorkflowRequest, WatchHasNoPollFlag) {
  EXPECT_THAT(Parse("watch", {"--poll", "1s"}).status().message(), HasSubstr("--poll"));
}

// --- Output mode ---

TEST(CliWatchOutput, TtyFlagPicksTheMode) {
  const auto mode = [](const std::vector<std::string>& args, bool is_tty) {
    const auto flags = Parse("watch", args);
    EXPECT_TRUE(flags.ok());
    return ChooseWatchOutput(*flags, is_tty);
  };
  EXPECT_EQ(*mode({}, true), WatchOutput::kLiveTable);
  EXPECT_EQ(*mode({}, false), WatchOutput::kPlainLines);
  EXPECT_EQ(*mode({"--tty=always"}, false), WatchOutput::kLiveTable);
  EXPECT_EQ(*mode({"--tty=never"}, true), WatchOutput::kPlainLines);
  EXPECT_EQ(*mode({"--tty=ALWAYS", "--json"}, true), WatchOutput::kJsonLines);
  const auto bad = mode({"--tty=sometimes"}, true);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--tty"));
}

// --- WatchPrinter ---

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

v1::WatchVerifyJobResponse JobEvent(v1::VerifyJobState state, bool finished,
                                    std::vector<v1::DeviceTask> tasks) {
  v1::WatchVerifyJobResponse event;
  v1::VerifyJob* job = event.mutable_job();
  job->set_job_id("JOB-1");
  job->set_state(state);
  job->set_finished(finished);
  for (v1::DeviceTask& task : tasks) *job->add_tasks() = std::move(task);
  return event;
}

// The story every watch test follows: two devices; one fails.
std::vector<v1::WatchVerifyJobResponse> Story() {
  v1::WatchVerifyJobResponse warning;
  absl::Status error = absl::UnavailableError("QueryOTAJob timed out");
  google::rpc::ErrorInfo info;
  info.set_reason("UPSTREAM_UNREACHABLE");
  info.set_domain(kErrorDomain);
  SetDetail(error, info);
  *warning.mutable_upstream_error() = ToRpcStatus(error);
  return {
      JobEvent(v1::VERIFY_JOB_STATE_IN_PROGRESS, false,
               {Task("demo-device-1", v1::TASK_STATE_QUEUED, 0),
                Task("demo-device-fail", v1::TASK_STATE_QUEUED, 0)}),
      JobEvent(v1::VERIFY_JOB_STATE_IN_PROGRESS, false,
               {Task("demo-device-1", v1::TASK_STATE_IN_PROGRESS, 40),
                Task("demo-device-fail", v1::TASK_STATE_QUEUED, 0)}),
      warning,
      JobEvent(v1::VERIFY_JOB_STATE_COMPLETED, true,
               {Task("demo-device-1", v1::TASK_STATE_SUCCEEDED, 100),
                Task("demo-device-fail", v1::TASK_STATE_FAILED, 30,
                     "checksum mismatch after download")}),
  };
}

struct Printed {
  int exit_status;
  std::string out;
  std::string err;
};

Printed PrintStory(WatchOutput output, const absl::Status& end, int width = 100) {
  std::ostringstream out, err;
  WatchPrinter printer(output, width, absl::UTCTimeZone(), out, err);
  absl::Time now = kNoon;
  for (const v1::WatchVerifyJobResponse& event : Story()) {
    printer.OnEvent(event, now);
    now += absl::Seconds(2);
  }
  const int exit_status = printer.OnEnd(end, CallMetadata{"REQ-W", 1}, now);
  return {exit_status, out.str(), err.str()};
}

TEST(CliWatchPrinter, PlainLinesListChangesThenASummary) {
  const Printed printed = PrintStory(WatchOutput::kPlainLines, absl::OkStatus());
  EXPECT_EQ(printed.exit_status, 0);
  EXPECT_EQ(printed.out,
            "12:00:01 job JOB-1 IN_PROGRESS, 2 devices\n"
            "12:00:01 demo-device-1 QUEUED 0%\n"
            "12:00:01 demo-device-fail QUEUED 0%\n"
            "12:00:03 demo-device-1 IN_PROGRESS 40%\n"
            "12:00:07 job JOB-1 COMPLETED\n"
            "12:00:07 demo-device-1 SUCCEEDED 100%\n"
            "12:00:07 demo-device-fail FAILED 30% - checksum mismatch after download\n"
            "12:00:09 done: job JOB-1 COMPLETED, 2 devices: 1 succeeded, 1 failed\n");
}

TEST(CliWatchPrinter, PlainUpstreamErrorIsAWarningOnStderrAndTheWatchGoesOn) {
  const Printed printed = PrintStory(WatchOutput::kPlainLines, absl::OkStatus());
  EXPECT_EQ(printed.err,
            "12:00:05 warning: upstream poll failed, still watching: UNAVAILABLE: QueryOTAJob "
            "timed out [UPSTREAM_UNREACHABLE]\n");
  EXPECT_THAT(printed.out, HasSubstr("12:00:07 job JOB-1 COMPLETED\n"));
}

TEST(CliWatchPrinter, LiveTableRedrawsInPlace) {
  const Printed printed = PrintStory(WatchOutput::kLiveTable, absl::OkStatus(), 200);
  EXPECT_EQ(printed.exit_status, 0);
  EXPECT_EQ(printed.err, "");
  // Frames: header, counts, blank, table header, 2 rows = 6 lines; 7 with the warning line.
  // The first frame starts in place, each later one moves up over its predecessor.
  const std::vector<std::string> frames = absl::StrSplit(printed.out, "\x1b[J");
  ASSERT_EQ(frames.size(), 5u);  // four frames and what follows the last
  EXPECT_EQ(frames[0].find("\x1b["), frames[0].find("\x1b[K"));  // no cursor-up in the first
  EXPECT_EQ(frames[1].substr(0, 5), "\r\x1b[6A");
  EXPECT_EQ(frames[2].substr(0, 5), "\r\x1b[6A");
  EXPECT_EQ(frames[3].substr(0, 5), "\r\x1b[7A");
  EXPECT_EQ(frames[4], "");
  EXPECT_THAT(frames[1],
              HasSubstr("demo-device-1     IN_PROGRESS  [########------------]  40%\x1b[K\n"));
  EXPECT_THAT(frames[2], HasSubstr("warning: 12:00:05 upstream poll failed, still watching: "
                                   "UNAVAILABLE: QueryOTAJob timed out [UPSTREAM_UNREACHABLE]"));
  EXPECT_THAT(frames[3], HasSubstr("job JOB-1  COMPLETED (finished)  updated 12:00:07\x1b[K\n"
                                   "2 devices: 1 succeeded, 1 failed\x1b[K\n"));
  EXPECT_THAT(frames[3], HasSubstr("demo-device-fail  FAILED     [######--------------]  30%  "
                                   "checksum mismatch after download\x1b[K\n"));
}

TEST(CliWatchPrinter, LiveTableLinesFitTheTerminal) {
  const Printed printed = PrintStory(WatchOutput::kLiveTable, absl::OkStatus(), 40);
  for (absl::string_view line : absl::StrSplit(printed.out, '\n')) {
    // What the terminal shows: the line without the control sequences around it.
    std::string shown(line);
    for (const char* control : {"\x1b[K", "\x1b[J", "\r\x1b[6A", "\r\x1b[7A"}) {
      for (size_t at; (at = shown.find(control)) != std::string::npos;) {
        shown.erase(at, std::string(control).size());
      }
    }
    EXPECT_LE(shown.size(), 40u) << shown;
  }
}

TEST(CliWatchPrinter, JsonLinesAreOneProtobufJsonObjectPerEvent) {
  const Printed printed = PrintStory(WatchOutput::kJsonLines, absl::OkStatus());
  EXPECT_EQ(printed.exit_status, 0);
  EXPECT_EQ(printed.err, "");
  std::vector<std::string> lines = absl::StrSplit(printed.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  const std::vector<v1::WatchVerifyJobResponse> story = Story();
  for (size_t i = 0; i < lines.size(); ++i) {
    v1::WatchVerifyJobResponse parsed;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[i], &parsed).ok()) << lines[i];
    EXPECT_EQ(parsed.SerializeAsString(), story[i].SerializeAsString()) << lines[i];
  }
  EXPECT_THAT(lines[1], HasSubstr(R"("progressPercent":40)"));
  EXPECT_THAT(lines[2], HasSubstr(R"({"upstreamError":{"code":14,)"));
  EXPECT_THAT(lines[3], HasSubstr(R"("finished":true)"));
}

TEST(CliWatchPrinter, FailedStreamPrintsTheErrorAndExitsWithItsCode) {
  const Printed text = PrintStory(WatchOutput::kPlainLines, absl::NotFoundError("no such job"));
  EXPECT_EQ(text.exit_status, 5);
  EXPECT_THAT(text.err, HasSubstr("error: NOT_FOUND: no such job\nupstream_request_id: REQ-W\n"));
  EXPECT_THAT(text.out, Not(HasSubstr("done:")));

  const Printed json = PrintStory(WatchOutput::kJsonLines, absl::DeadlineExceededError("late"));
  EXPECT_EQ(json.exit_status, 4);
  EXPECT_THAT(json.out, HasSubstr(R"({"code":"DEADLINE_EXCEEDED","message":"late","details":[])"
                                  R"(,"upstreamRequestId":"REQ-W"})"
                                  "\n"));
}

TEST(CliWatchPrinter, KeepsTheLastJob) {
  std::ostringstream out, err;
  WatchPrinter printer(WatchOutput::kPlainLines, 80, absl::UTCTimeZone(), out, err);
  EXPECT_FALSE(printer.last_job().has_value());
  for (const auto& event : Story()) printer.OnEvent(event, kNoon);
  ASSERT_TRUE(printer.last_job().has_value());
  EXPECT_TRUE(printer.last_job()->finished());
}

// --- The commands against a fake gateway ---

struct RunResult {
  int exit_status;
  std::string out;
  std::string err;
};

class CliWorkflowEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(gateway_.target().empty());
    env_.now = [] { return kNoon; };
    env_.sleep = [this](absl::Duration slept) { sleeps_.push_back(slept); };
  }

  // Runs `otaverify <args> --target <fake>` with `env_`.
  RunResult Run(std::vector<std::string> args) {
    args.push_back("--target=" + gateway_.target());
    std::ostringstream out, err;
    int exit_status;
    if (args[0] == "watch" || args[0] == "verify") {
      const auto flags = ParseCliFlags(Command(args[0]).flags,
                                       std::vector<std::string>(args.begin() + 1, args.end()));
      if (!flags.ok()) return {kUsageExitCode, "", std::string(flags.status().message())};
      exit_status =
          args[0] == "watch" ? RunWatch(*flags, env_, out, err) : RunVerify(*flags, env_, out, err);
    } else {
      exit_status = RunCli(args, out, err);
    }
    return {exit_status, out.str(), err.str()};
  }

  void ScriptStory(absl::Status end = absl::OkStatus()) {
    WatchScript script;
    for (const auto& event : Story()) script.steps.push_back({absl::ZeroDuration(), event});
    script.end = std::move(end);
    gateway_.service().SetWatch(script);
  }

  static v1::FirmwareVerification Firmware(v1::VerificationState state) {
    v1::FirmwareVerification firmware;
    firmware.set_firmware_id("FW1");
    firmware.set_src_version("1.0.0");
    firmware.set_dest_version("2.0.0");
    firmware.set_state(state);
    firmware.set_progress_percent(state == v1::VERIFICATION_STATE_VERIFYING ? 50 : 100);
    return firmware;
  }

  static v1::CreateVerifyJobResponse Created(bool already_existed = false) {
    v1::CreateVerifyJobResponse created;
    created.set_job_id("JOB-1");
    created.set_already_existed(already_existed);
    return created;
  }

  FakeGateway gateway_;
  WorkflowEnvironment env_;
  std::vector<absl::Duration> sleeps_;
};

const std::vector<std::string> kVerifyArgs = {
    "verify",   "--product_key",     "a1PK",     "--firmware_id",    "FW1",
    "--device", "demo-device-1",     "--device", "demo-device-fail", "--account",
    "prod",     "--iot_instance_id", "iot-1",    "--tty=never"};

TEST_F(CliWorkflowEndToEnd, VerifyFailedFirmwareExitsTwentyAndNamesTheFailingDevice) {
  gateway_.service().SetCreate(Created());
  ScriptStory();
  // The upstream settles the verdict a moment after the last task.
  gateway_.service().SetFirmware(
      {Firmware(v1::VERIFICATION_STATE_VERIFYING), Firmware(v1::VERIFICATION_STATE_FAILED)});

  const RunResult result = Run(kVerifyArgs);

  EXPECT_EQ(result.exit_status, kVerificationFailedExitCode) << result.err;
  EXPECT_EQ(result.out,
            "job_id: JOB-1 (created)\n"
            "12:00:01 job JOB-1 IN_PROGRESS, 2 devices\n"
            "12:00:01 demo-device-1 QUEUED 0%\n"
            "12:00:01 demo-device-fail QUEUED 0%\n"
            "12:00:01 demo-device-1 IN_PROGRESS 40%\n"
            "12:00:01 job JOB-1 COMPLETED\n"
            "12:00:01 demo-device-1 SUCCEEDED 100%\n"
            "12:00:01 demo-device-fail FAILED 30% - checksum mismatch after download\n"
            "12:00:01 done: job JOB-1 COMPLETED, 2 devices: 1 succeeded, 1 failed\n"
            "\n"
            "verdict: FAILED\n"
            "firmware: FW1 1.0.0 -> 2.0.0, progress 100%\n"
            "job: JOB-1 COMPLETED, 2 devices: 1 succeeded, 1 failed\n"
            "demo-device-fail FAILED: checksum mismatch after download\n");
  EXPECT_THAT(result.err, HasSubstr("warning: upstream poll failed, still watching"));
  EXPECT_EQ(gateway_.service().firmware_calls(), 2);
  EXPECT_THAT(sleeps_, ElementsAre(absl::Seconds(1)));
  // Every call speaks for the same account, instance, firmware and job.
  EXPECT_EQ(gateway_.service().create_request().account(), "prod");
  EXPECT_FALSE(gateway_.service().create_request().return_existing());
  EXPECT_EQ(gateway_.service().watch_request().job_id(), "JOB-1");
  EXPECT_EQ(gateway_.service().watch_request().account(), "prod");
  EXPECT_EQ(gateway_.service().watch_request().iot_instance_id(), "iot-1");
  EXPECT_EQ(gateway_.service().firmware_request().firmware_id(), "FW1");
  EXPECT_EQ(gateway_.service().firmware_request().account(), "prod");
  EXPECT_EQ(gateway_.service().firmware_request().iot_instance_id(), "iot-1");
}

TEST_F(CliWorkflowEndToEnd, VerifyVerifiedFirmwareExitsZero) {
  gateway_.service().SetCreate(Created(/*already_existed=*/true));
  ScriptStory();
  gateway_.service().SetFirmware({Firmware(v1::VERIFICATION_STATE_VERIFIED)});
  std::vector<std::string> args = kVerifyArgs;
  args.push_back("--return_existing");

  const RunResult result = Run(args);

  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("job_id: JOB-1 (already existed; watching it)\n"));
  EXPECT_THAT(result.out, HasSubstr("\nverdict: VERIFIED\n"));
  EXPECT_TRUE(gateway_.service().create_request().return_existing());
  EXPECT_EQ(gateway_.service().firmware_calls(), 1);
  EXPECT_THAT(sleeps_, IsEmpty());
}

TEST_F(CliWorkflowEndToEnd, VerifyStillVerifyingAfterBoundedRechecksExitsTwenty) {
  gateway_.service().SetCreate(Created());
  ScriptStory();
  gateway_.service().SetFirmware({Firmware(v1::VERIFICATION_STATE_VERIFYING)});
  env_.recheck_attempts = 3;

  const RunResult result = Run(kVerifyArgs);

  EXPECT_EQ(result.exit_status, kVerificationFailedExitCode);
  EXPECT_THAT(result.out, HasSubstr("verdict: VERIFYING\n"));
  EXPECT_EQ(gateway_.service().firmware_calls(), 4);  // the first read and three re-reads
  EXPECT_EQ(sleeps_.size(), 3u);
}

TEST_F(CliWorkflowEndToEnd, VerifyCreateFailureKeepsTheGrpcExitCode) {
  gateway_.service().SetCreate(absl::FailedPreconditionError("package is already verified"));
  ScriptStory();

  const RunResult result = Run(kVerifyArgs);

  EXPECT_EQ(result.exit_status, 9);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err, HasSubstr("error: FAILED_PRECONDITION: package is already verified\n"
                                    "upstream_request_id: REQ-CreateVerifyJob\n"));
  EXPECT_EQ(gateway_.service().watch_calls(), 0);
}

TEST_F(CliWorkflowEndToEnd, VerifyWatchFailureKeepsTheGrpcExitCode) {
  gateway_.service().SetCreate(Created());
  ScriptStory(absl::PermissionDeniedError("forbidden"));
  gateway_.service().SetFirmware({Firmware(v1::VERIFICATION_STATE_VERIFIED)});

  const RunResult result = Run(kVerifyArgs);

  EXPECT_EQ(result.exit_status, 7);
  EXPECT_THAT(result.err, HasSubstr("error: PERMISSION_DENIED: forbidden\n"));
  EXPECT_THAT(result.out, Not(HasSubstr("verdict")));
  EXPECT_EQ(gateway_.service().firmware_calls(), 0);
}

TEST_F(CliWorkflowEndToEnd, VerifyFirmwareReadFailureKeepsTheGrpcExitCode) {
  gateway_.service().SetCreate(Created());
  ScriptStory();
  gateway_.service().SetFirmware({absl::UnavailableError("upstream down")});

  const RunResult result = Run(kVerifyArgs);

  EXPECT_EQ(result.exit_status, 14);
  EXPECT_THAT(result.err, HasSubstr("error: UNAVAILABLE: upstream down\n"));
}

TEST_F(CliWorkflowEndToEnd, VerifyJsonPrintsCreateEventsAndFirmwareLines) {
  gateway_.service().SetCreate(Created());
  ScriptStory();
  gateway_.service().SetFirmware({Firmware(v1::VERIFICATION_STATE_FAILED)});
  std::vector<std::string> args = kVerifyArgs;
  args.push_back("--json");

  const RunResult result = Run(args);

  EXPECT_EQ(result.exit_status, kVerificationFailedExitCode);
  EXPECT_EQ(result.err, "");
  const std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << result.out;  // create, four events, firmware
  EXPECT_EQ(lines[0], R"({"jobId":"JOB-1"})");
  EXPECT_THAT(lines[3], HasSubstr(R"({"upstreamError":)"));
  EXPECT_EQ(lines[5], R"({"firmwareId":"FW1","srcVersion":"1.0.0","destVersion":"2.0.0",)"
                      R"("state":"VERIFICATION_STATE_FAILED","progressPercent":100})");
}

TEST_F(CliWorkflowEndToEnd, VerifyLiveTableEndsWithTheVerdictBelowIt) {
  gateway_.service().SetCreate(Created());
  ScriptStory();
  gateway_.service().SetFirmware({Firmware(v1::VERIFICATION_STATE_VERIFIED)});
  std::vector<std::string> args = kVerifyArgs;
  args.back() = "--tty=always";

  const RunResult result = Run(args);

  EXPECT_EQ(result.exit_status, 0);
  EXPECT_THAT(result.out, HasSubstr("\r\x1b[7A"));
  EXPECT_THAT(result.out, HasSubstr("\x1b[J\nverdict: VERIFIED\n"));
}

TEST_F(CliWorkflowEndToEnd, WatchPlainFollowsTheJobAndExitsZero) {
  ScriptStory();

  const RunResult result = Run({"watch", "--job_id", "JOB-1", "--tty=never"});

  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("12:00:01 demo-device-1 IN_PROGRESS 40%\n"));
  EXPECT_THAT(result.out,
              HasSubstr("12:00:01 done: job JOB-1 COMPLETED, 2 devices: 1 succeeded, 1 failed\n"));
  EXPECT_EQ(gateway_.service().watch_request().job_id(), "JOB-1");
}

TEST_F(CliWorkflowEndToEnd, WatchUnknownJobExitsWithNotFound) {
  gateway_.service().SetWatch(WatchScript{{}, absl::NotFoundError("verify job JOB-X not found")});

  const RunResult result = Run({"watch", "--job_id", "JOB-X", "--tty=never"});

  EXPECT_EQ(result.exit_status, 5);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err, HasSubstr("error: NOT_FOUND: verify job JOB-X not found\n"));
}

TEST_F(CliWorkflowEndToEnd, WatchDeadlineEndsWithDeadlineExceeded) {
  WatchScript script;
  script.steps.push_back({absl::ZeroDuration(), Story()[0]});
  script.hang = true;
  gateway_.service().SetWatch(script);

  const RunResult result =
      Run({"watch", "--job_id", "JOB-1", "--tty=never", "--deadline", "300ms"});

  EXPECT_EQ(result.exit_status, 4);
  EXPECT_THAT(result.out, HasSubstr("12:00:01 job JOB-1 IN_PROGRESS, 2 devices\n"));
  EXPECT_THAT(result.err, HasSubstr("error: DEADLINE_EXCEEDED"));
}

TEST_F(CliWorkflowEndToEnd, StatusPrintsTheVerification) {
  v1::FirmwareVerification firmware = Firmware(v1::VERIFICATION_STATE_VERIFYING);
  firmware.set_verify_job_id("JOB-1");
  firmware.set_verify_job_state(v1::VERIFY_JOB_STATE_IN_PROGRESS);
  gateway_.service().SetFirmware({firmware});

  const RunResult result = Run({"status", "--firmware_id", "FW1", "--account", "prod"});

  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out,
            "firmware_id: FW1\n"
            "versions: 1.0.0 -> 2.0.0\n"
            "state: VERIFYING\n"
            "progress: [##########----------]  50%\n"
            "verify_job_id: JOB-1\n"
            "verify_job_state: IN_PROGRESS\n");
  EXPECT_EQ(gateway_.service().firmware_request().account(), "prod");
}

TEST_F(CliWorkflowEndToEnd, StatusJsonIsOneObject) {
  gateway_.service().SetFirmware({Firmware(v1::VERIFICATION_STATE_VERIFIED)});
  const RunResult result = Run({"status", "--firmware_id", "FW1", "--json"});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_EQ(result.out, R"({"firmwareId":"FW1","srcVersion":"1.0.0","destVersion":"2.0.0",)"
                        R"("state":"VERIFICATION_STATE_VERIFIED","progressPercent":100})"
                        "\n");
}

TEST_F(CliWorkflowEndToEnd, JobPrintsTheDeviceTableAndRequestId) {
  v1::VerifyJob job = Story().back().job();
  gateway_.service().SetJob(job);

  const RunResult result = Run({"job", "--job_id", "JOB-1"});

  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("job_id: JOB-1\nstate: COMPLETED\nfinished: true\n"));
  EXPECT_THAT(result.out,
              HasSubstr("DEVICE            STATE      PROGRESS                     DESCRIPTION\n"
                        "demo-device-1     SUCCEEDED  [####################] 100%\n"
                        "demo-device-fail  FAILED     [######--------------]  30%  checksum "
                        "mismatch after download\n"));
  EXPECT_THAT(result.out, HasSubstr("\nupstream_request_id: REQ-GetVerifyJob\n"));
  EXPECT_EQ(gateway_.service().job_request().job_id(), "JOB-1");
}

TEST_F(CliWorkflowEndToEnd, JobNotFoundExitsFive) {
  gateway_.service().SetJob(absl::NotFoundError("no such job"));
  const RunResult result = Run({"job", "--job_id", "JOB-X", "--json"});
  EXPECT_EQ(result.exit_status, 5);
  EXPECT_THAT(result.out, HasSubstr(R"({"code":"NOT_FOUND","message":"no such job")"));
}

TEST_F(CliWorkflowEndToEnd, CancelSendsTheStatesAndPrintsWhatWasCanceled) {
  v1::CancelVerifyJobResponse canceled;
  canceled.add_canceled_states(v1::TASK_STATE_QUEUED);
  canceled.add_canceled_states(v1::TASK_STATE_NOTIFIED);
  canceled.set_upstream_request_id("REQ-C");
  gateway_.service().SetCancel(canceled);

  const RunResult result = Run({"cancel", "--job_id", "JOB-1", "--states", "queued,notified"});

  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, "canceled tasks in states: QUEUED, NOTIFIED\nupstream_request_id: REQ-C\n");
  EXPECT_THAT(gateway_.service().cancel_request().task_states(),
              ElementsAre(v1::TASK_STATE_QUEUED, v1::TASK_STATE_NOTIFIED));
}

TEST_F(CliWorkflowEndToEnd, CancelBadStateIsAUsageErrorAndCallsNothing) {
  const RunResult result = Run({"cancel", "--job_id", "JOB-1", "--states", "done"});
  EXPECT_EQ(result.exit_status, kUsageExitCode);
  EXPECT_THAT(result.err, HasSubstr("otaverify: --states: "));
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(gateway_.service().cancel_request().job_id(), "");
}

// --- Help ---

TEST(CliWorkflowHelp, EveryNewCommandIsListedAndDocumentsExitStatusTwenty) {
  std::ostringstream out, err;
  ASSERT_EQ(RunCli({"--help"}, out, err), 0);
  for (const char* name : {"verify", "status", "job", "watch", "cancel"}) {
    EXPECT_THAT(out.str(), HasSubstr(absl::StrCat("\n  ", name, " "))) << name;
  }
  std::ostringstream verify_out, verify_err;
  ASSERT_EQ(RunCli({"verify", "--help"}, verify_out, verify_err), 0);
  EXPECT_THAT(verify_out.str(), HasSubstr("  20  verify only:"));
  EXPECT_THAT(verify_out.str(), HasSubstr("--return_existing"));
  EXPECT_THAT(verify_out.str(), HasSubstr("--tty auto|always|never"));
  EXPECT_THAT(verify_out.str(), HasSubstr("[default: 1h]"));
}

TEST(CliWorkflowHelp, BadTtyValueIsAUsageErrorNamingTheFlag) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"watch", "--job_id", "J", "--tty", "maybe"}, out, err), kUsageExitCode);
  EXPECT_THAT(err.str(), HasSubstr("--tty"));
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace otaverify

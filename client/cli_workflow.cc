#include "client/cli_workflow.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/cli_output.h"
#include "client/cli_render.h"

namespace otaverify {
namespace {

// Each unary call of `verify` gets at most this long, within the command's own deadline.
constexpr absl::Duration kVerifyUnaryCallDeadline = absl::Seconds(10);

constexpr char kJsonLinesWatchHelp[] =
    "print one JSON object per line on stdout: each event as it arrives; a failed call ends "
    "with its error object";
constexpr char kJsonLinesVerifyHelp[] =
    "print one JSON object per line on stdout: the CreateVerifyJob response, each watch "
    "event, the final FirmwareVerification; a failed call ends with its error object";

CliFlagSpec AccountFlag() {
  return {"account", CliFlagType::kString,
          false,     "",
          "NAME",    "credential profile that signs the call (empty: the gateway's default)"};
}
CliFlagSpec IotInstanceIdFlag() {
  return {"iot_instance_id", CliFlagType::kString, false, "", "ID", "IoT instance id"};
}
CliFlagSpec JobIdFlag() {
  return {"job_id", CliFlagType::kString, false, "", "JOB", "verify job id"};
}
CliFlagSpec TtyFlag() {
  return {"tty",
          CliFlagType::kString,
          false,
          "auto",
          "auto|always|never",
          "always: a live table redrawn in place; never: one plain line per change; auto: "
          "the table when stdout is a terminal"};
}

std::vector<CliFlagSpec> WithHelp(std::vector<CliFlagSpec> specs, absl::string_view name,
                                  absl::string_view help) {
  for (CliFlagSpec& spec : specs) {
    if (spec.name == name) spec.help = help;
  }
  return specs;
}

Client ConnectFromFlags(const CliFlags& flags) {
  return Client::Connect(flags.Get<std::string>("target").value_or(""));
}

bool JsonFlag(const CliFlags& flags) { return flags.Get<bool>("json").value_or(false); }

void PrintFailure(const absl::Status& status, const CallMetadata& metadata, bool json,
                  std::ostream& out, std::ostream& err) {
  if (json) {
    out << StatusToJson(status, metadata.upstream_request_id) << "\n";
  } else {
    PrintStatusText(status, metadata.upstream_request_id, err);
  }
}

// The outcome of a unary call: `text` of the response, or its JSON, or the error.
template <typename Response, typename Format>
int PrintUnaryResult(const absl::StatusOr<Response>& result, const CallMetadata& metadata,
                     bool json, Format text, std::ostream& out, std::ostream& err) {
  if (!result.ok()) {
    PrintFailure(result.status(), metadata, json, out, err);
    return ExitCodeForStatus(result.status());
  }
  out << (json ? MessageToJson(*result) + "\n" : text(*result));
  return 0;
}

absl::StatusOr<v1::TaskState> ParseTaskState(absl::string_view text) {
  const std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  absl::string_view name = upper;
  absl::ConsumePrefix(&name, "TASK_STATE_");
  static constexpr v1::TaskState kCancelable[] = {v1::TASK_STATE_QUEUED, v1::TASK_STATE_IN_PROGRESS,
                                                  v1::TASK_STATE_NOTIFIED,
                                                  v1::TASK_STATE_AWAITING_CONFIRMATION};
  for (const v1::TaskState state : kCancelable) {
    if (TaskStateName(state) == name) return state;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--states: expected queued, in_progress, notified or awaiting_confirmation, got \"", text,
      "\""));
}

// The deadline left of `give_up`, capped at `cap`.
CallOptions Within(CallOptions options, absl::Time now, absl::Time give_up, absl::Duration cap) {
  options.deadline = std::min(cap, give_up - now);
  return options;
}

int RunStatus(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  CallMetadata metadata;
  const auto result = ConnectFromFlags(flags).GetFirmwareVerification(
      BuildGetFirmwareVerificationRequest(flags), BuildCallOptions(flags), &metadata);
  return PrintUnaryResult(result, metadata, JsonFlag(flags), FormatFirmwareVerification, out, err);
}

int RunJob(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  CallMetadata metadata;
  const auto result = ConnectFromFlags(flags).GetVerifyJob(BuildGetVerifyJobRequest(flags),
                                                           BuildCallOptions(flags), &metadata);
  // VerifyJob has no request id field: the trailer has the ids of every upstream call.
  const auto text = [&metadata](const v1::VerifyJob& job) {
    std::string rendered = FormatVerifyJob(job);
    if (!metadata.upstream_request_id.empty()) {
      absl::StrAppend(&rendered, "\nupstream_request_id: ", metadata.upstream_request_id, "\n");
    }
    return rendered;
  };
  return PrintUnaryResult(result, metadata, JsonFlag(flags), text, out, err);
}

int RunCancel(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<v1::CancelVerifyJobRequest> request = BuildCancelVerifyJobRequest(flags);
  if (!request.ok()) return UsageError("cancel", request.status(), err);
  CallMetadata metadata;
  const auto result =
      ConnectFromFlags(flags).CancelVerifyJob(*request, BuildCallOptions(flags), &metadata);
  return PrintUnaryResult(result, metadata, JsonFlag(flags), FormatCancelVerifyJobResult, out, err);
}

}  // namespace

WorkflowEnvironment WorkflowEnvironmentFromProcess() {
  WorkflowEnvironment env;
  env.stdout_is_tty = isatty(STDOUT_FILENO) == 1;
  winsize size{};
  int columns = 0;
  if (env.stdout_is_tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    env.terminal_width = size.ws_col;
  } else if (const char* env_columns = std::getenv("COLUMNS");
             env_columns != nullptr && absl::SimpleAtoi(env_columns, &columns) && columns > 0) {
    env.terminal_width = columns;
  }
  env.time_zone = absl::LocalTimeZone();
  env.now = absl::Now;
  env.sleep = absl::SleepFor;
  return env;
}

absl::StatusOr<WatchOutput> ChooseWatchOutput(const CliFlags& flags, bool stdout_is_tty) {
  if (JsonFlag(flags)) return WatchOutput::kJsonLines;
  const std::string tty = absl::AsciiStrToLower(flags.Get<std::string>("tty").value_or("auto"));
  if (tty == "always") return WatchOutput::kLiveTable;
  if (tty == "never") return WatchOutput::kPlainLines;
  if (tty == "auto") return stdout_is_tty ? WatchOutput::kLiveTable : WatchOutput::kPlainLines;
  return absl::InvalidArgumentError(absl::StrCat("--tty: expected auto, always or never, got \"",
                                                 *flags.Get<std::string>("tty"), "\""));
}

absl::StatusOr<std::vector<v1::TaskState>> ParseTaskStates(absl::Span<const std::string> values) {
  std::vector<v1::TaskState> states;
  for (const std::string& value : values) {
    for (const absl::string_view item : absl::StrSplit(value, ',')) {
      absl::StatusOr<v1::TaskState> state = ParseTaskState(item);
      if (!state.ok()) return state.status();
      states.push_back(*state);
    }
  }
  return states;
}

v1::GetFirmwareVerificationRequest BuildGetFirmwareVerificationRequest(const CliFlags& flags) {
  v1::GetFirmwareVerificationRequest request;
  request.set_account(flags.Get<std::string>("account").value_or(""));
  request.set_firmware_id(flags.Get<std::string>("firmware_id").value_or(""));
  request.set_iot_instance_id(flags.Get<std::string>("iot_instance_id").value_or(""));
  return request;
}

v1::GetVerifyJobRequest BuildGetVerifyJobRequest(const CliFlags& flags) {
  v1::GetVerifyJobRequest request;
  request.set_account(flags.Get<std::string>("account").value_or(""));
  request.set_job_id(flags.Get<std::string>("job_id").value_or(""));
  request.set_iot_instance_id(flags.Get<std::string>("iot_instance_id").value_or(""));
  return request;
}

v1::WatchVerifyJobRequest BuildWatchVerifyJobRequest(const CliFlags& flags) {
  v1::WatchVerifyJobRequest request;
  request.set_account(flags.Get<std::string>("account").value_or(""));
  request.set_job_id(flags.Get<std::string>("job_id").value_or(""));
  request.set_iot_instance_id(flags.Get<std::string>("iot_instance_id").value_or(""));
  return request;
}

absl::StatusOr<v1::CancelVerifyJobRequest> BuildCancelVerifyJobRequest(const CliFlags& flags) {
  v1::CancelVerifyJobRequest request;
  request.set_account(flags.Get<std::string>("account").value_or(""));
  request.set_job_id(flags.Get<std::string>("job_id").value_or(""));
  request.set_iot_instance_id(flags.Get<std::string>("iot_instance_id").value_or(""));
  absl::StatusOr<std::vector<v1::TaskState>> states =
      ParseTaskStates(flags.GetAll<std::string>("states"));
  if (!states.ok()) return states.status();
  for (const v1::TaskState state : *states) request.add_task_states(state);
  return request;
}

WatchPrinter::WatchPrinter(WatchOutput output, int width, absl::TimeZone zone, std::ostream& out,
                           std::ostream& err)
    : output_(output), width_(width), zone_(zone), out_(out), err_(err) {}

void WatchPrinter::OnEvent(const v1::WatchVerifyJobResponse& event, absl::Time now) {
  if (output_ == WatchOutput::kJsonLines) {
    out_ << MessageToJson(event) << "\n";
    if (event.has_job()) last_job_ = event.job();
    return;
  }
  if (event.has_upstream_error()) {
    const std::string text = UpstreamErrorText(event.upstream_error());
    const std::string clock = absl::FormatTime("%H:%M:%S", now, zone_);
    if (output_ == WatchOutput::kLiveTable) {
      warning_ = absl::StrCat("warning: ", clock, " upstream poll failed, still watching: ", text);
      Redraw();
    } else {
      err_ << clock << " warning: upstream poll failed, still watching: " << text << "\n";
    }
    return;
  }
  if (!event.has_job()) return;  // an event kind newer than this binary
  if (output_ == WatchOutput::kPlainLines) {
    for (const std::string& line :
         ChangeLines(last_job_.has_value() ? &*last_job_ : nullptr, event.job(), now, zone_)) {
      out_ << line << "\n";
    }
  }
  last_job_ = event.job();
  updated_ = now;
  if (output_ == WatchOutput::kLiveTable) Redraw();
}

void WatchPrinter::Redraw() {
  std::vector<std::string> lines;
  if (last_job_.has_value()) {
    lines = LiveFrameLines(*last_job_, warning_, updated_, zone_, width_);
  } else {
    lines.push_back(FitToWidth(warning_, width_));
  }
  out_ << RedrawFrame(lines_drawn_, lines);
  lines_drawn_ = static_cast<int>(lines.size());
}

int WatchPrinter::OnEnd(const absl::Status& status, const CallMetadata& metadata, absl::Time now) {
  if (!status.ok()) {
    PrintFailure(status, metadata, output_ == WatchOutput::kJsonLines, out_, err_);
    return ExitCodeForStatus(status);
  }
  if (output_ == WatchOutput::kPlainLines && last_job_.has_value()) {
    out_ << SummaryLine(*last_job_, now, zone_) << "\n";
  }
  return 0;
}

int RunWatch(const CliFlags& flags, const WorkflowEnvironment& env, std::ostream& out,
             std::ostream& err) {
  const absl::StatusOr<WatchOutput> output = ChooseWatchOutput(flags, env.stdout_is_tty);
  if (!output.ok()) return UsageError("watch", output.status(), err);
  WatchPrinter printer(*output, env.terminal_width, env.time_zone, out, err);
  CallMetadata metadata;
  const absl::Status status = ConnectFromFlags(flags).WatchVerifyJob(
      BuildWatchVerifyJobRequest(flags), BuildCallOptions(flags),
      [&](const v1::WatchVerifyJobResponse& event) {
        printer.OnEvent(event, env.now());
        out.flush();  // each change shows at once, also through a pipe
        return true;
      },
      &metadata);
  return printer.OnEnd(status, metadata, env.now());
}

int RunVerify(const CliFlags& flags, const WorkflowEnvironment& env, std::ostream& out,
              std::ostream& err) {
  const absl::StatusOr<WatchOutput> output = ChooseWatchOutput(flags, env.stdout_is_tty);
  if (!output.ok()) return UsageError("verify", output.status(), err);
  const absl::StatusOr<v1::CreateVerifyJobRequest> request = BuildCreateVerifyJobRequest(flags);
  if (!request.ok()) return UsageError("verify", request.status(), err);
  const bool json = *output == WatchOutput::kJsonLines;
  const Client client = ConnectFromFlags(flags);
  const CallOptions options = BuildCallOptions(flags);
  const absl::Time give_up = options.deadline == absl::InfiniteDuration()
                                 ? absl::InfiniteFuture()
                                 : env.now() + options.deadline;

  // 1. Create (or, with --return_existing, find) the job.
  CallMetadata metadata;
  const absl::StatusOr<v1::CreateVerifyJobResponse> created = client.CreateVerifyJob(
      *request, Within(options, env.now(), give_up, kVerifyUnaryCallDeadline), &metadata);
  if (!created.ok()) {
    PrintFailure(created.status(), metadata, json, out, err);
    return ExitCodeForStatus(created.status());
  }
  if (json) {
    out << MessageToJson(*created) << "\n";
  } else {
    out << "job_id: " << created->job_id()
        << (created->already_existed() ? " (already existed; watching it)" : " (created)") << "\n";
  }
  out.flush();

  // 2. Watch it until it ends.
  v1::WatchVerifyJobRequest watch;
  watch.set_account(request->account());
  watch.set_job_id(created->job_id());
  watch.set_iot_instance_id(request->iot_instance_id());
  WatchPrinter printer(*output, env.terminal_width, env.time_zone, out, err);
  const absl::Status watched = client.WatchVerifyJob(
      watch, Within(options, env.now(), give_up, absl::InfiniteDuration()),
      [&](const v1::WatchVerifyJobResponse& event) {
        printer.OnEvent(event, env.now());
        out.flush();
        return true;
      },
      &metadata);
  const int watch_exit = printer.OnEnd(watched, metadata, env.now());
  if (watch_exit != 0) return watch_exit;

  // 3. The firmware's verdict, which the upstream may settle a moment after the last task.
  v1::GetFirmwareVerificationRequest check;
  check.set_account(request->account());
  check.set_firmware_id(request->firmware_id());
  check.set_iot_instance_id(request->iot_instance_id());
  absl::StatusOr<v1::FirmwareVerification> firmware;
  for (int attempt = 0;; ++attempt) {
    firmware = client.GetFirmwareVerification(
        check, Within(options, env.now(), give_up, kVerifyUnaryCallDeadline), &metadata);
    if (!firmware.ok()) {
      PrintFailure(firmware.status(), metadata, json, out, err);
      return ExitCodeForStatus(firmware.status());
    }
    if (firmware->state() != v1::VERIFICATION_STATE_VERIFYING || attempt >= env.recheck_attempts ||
        env.now() + env.recheck_interval >= give_up) {
      break;
    }
    if (env.sleep) env.sleep(env.recheck_interval);
  }

  const Verdict verdict =
      DecideVerdict(*firmware, printer.last_job().has_value() ? &*printer.last_job() : nullptr);
  if (json) {
    out << MessageToJson(*firmware) << "\n";
  } else {
    out << "\n";
    for (const std::string& line : verdict.lines) out << line << "\n";
  }
  return verdict.exit_status;
}

CliCommand StatusCommand() {
  return {
      "status",
      "show a firmware's verification state (GetFirmwareVerification)",
      "--firmware_id FW [flags]",
      "Shows the firmware package's verification state and progress, its versions, and its\n"
      "newest verify job with that job's state (upstream QueryOTAFirmware and\n"
      "ListOTAJobByFirmware). Read-only.",
      ConcatFlags({AccountFlag(),
                   {"firmware_id", CliFlagType::kString, false, "", "FW", "firmware package id"},
                   IotInstanceIdFlag()},
                  GatewayCallFlags("10s", kJsonOneObjectHelp)),
      RunStatus,
  };
}

CliCommand JobCommand() {
  return {
      "job",
      "show a verify job and its devices (GetVerifyJob)",
      "--job_id JOB [flags]",
      "Shows a verify job: its state, timestamps, settings and tags, and a table of its\n"
      "devices with each one's state, progress and description (upstream QueryOTAJob and\n"
      "ListOTATaskByJob). Read-only.",
      ConcatFlags({AccountFlag(), JobIdFlag(), IotInstanceIdFlag()},
                  GatewayCallFlags("10s", kJsonOneObjectHelp)),
      RunJob,
  };
}

CliCommand WatchCommand() {
  return {
      "watch",
      "follow a verify job until it ends (WatchVerifyJob)",
      "--job_id JOB [flags]",
      "Follows a verify job until it ends. On a terminal, a table of the devices with a\n"
      "progress bar each is redrawn in place; otherwise one line is printed per change\n"
      "(\"12:00:01 demo-device-2 IN_PROGRESS 40%\") and a summary line at the end. A poll\n"
      "that failed upstream is shown as a warning and the watch goes on; polling happens in\n"
      "the gateway, shared by every watcher of the job. Exits 0 when the job ended.",
      ConcatFlags({AccountFlag(), JobIdFlag(), IotInstanceIdFlag(), TtyFlag()},
                  WithHelp(GatewayCallFlags("1h", kJsonLinesWatchHelp), "deadline",
                           "give up watching after this long, e.g. 30m, 2h")),
      [](const CliFlags& flags, std::ostream& out, std::ostream& err) {
        return RunWatch(flags, WorkflowEnvironmentFromProcess(), out, err);
      },
  };
}

CliCommand CancelCommand() {
  return {
      "cancel",
      "cancel a verify job's unfinished tasks (CancelVerifyJob)",
      "--job_id JOB [--states STATE,...] [flags]",
      "Cancels the verify job's device tasks that have not ended yet (upstream\n"
      "CancelOTATaskByJob); tasks that already succeeded, failed or were canceled are not\n"
      "touched. Prints the task states that were canceled.",
      ConcatFlags({AccountFlag(),
                   JobIdFlag(),
                   IotInstanceIdFlag(),
                   {"states", CliFlagType::kString, true, "", "STATE[,STATE...]",
                    "cancel only tasks in these states: queued, in_progress, notified, "
                    "awaiting_confirmation (default: all four)"}},
                  GatewayCallFlags("10s", kJsonOneObjectHelp)),
      RunCancel,
  };
}

CliCommand VerifyCommand() {
  return {
      "verify",
      "create a verify job, follow it to the end and report the verdict",
      "--product_key PK --firmware_id FW --device NAME [--device NAME ...] [flags]",
      "Verifies a firmware package end to end: creates the verify job (as `create`; with\n"
      "--return_existing a job already verifying the firmware is followed instead), follows\n"
      "it until it ends (as `watch`), then reads the firmware's verification state, reading\n"
      "it again a few times a second apart while it is still VERIFYING. Prints the verdict\n"
      "and every device that did not succeed with the reason the upstream gives, e.g.\n"
      "\"demo-device-fail FAILED: checksum mismatch after download\".\n"
      "Exits 0 only if the firmware ended VERIFIED, 20 if it did not.",
      ConcatFlags(ConcatFlags(CreateVerifyJobRequestFlags(),
                              {{"return_existing", CliFlagType::kBool, false, "", "",
                                "follow the firmware's verify job in progress instead of failing "
                                "with FAILED_PRECONDITION"},
                               TtyFlag()}),
                  WithHelp(GatewayCallFlags("1h", kJsonLinesVerifyHelp), "deadline",
                           "bound on the whole command; each unary call also stops after 10s")),
      [](const CliFlags& flags, std::ostream& out, std::ostream& err) {
        return RunVerify(flags, WorkflowEnvironmentFromProcess(), out, err);
      },
  };
}

}  // namespace otaverify

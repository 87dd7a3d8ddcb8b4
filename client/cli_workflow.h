// The verify-workflow subcommands of the `otaverify` CLI: `status`, `job`, `watch`, `cancel`
// and `verify` (create, watch until the job ends, then judge the firmware's verification).
//
// Each command is a CliCommand for the table in cli.cc. The parts worth testing without a
// gateway are exposed: request building from flags, the choice of watch output, and
// WatchPrinter, which turns WatchVerifyJob events into the live table, the plain change log or
// JSON lines. Renderings themselves are the pure functions of cli_render.h.
//
// What the commands take from the process besides their flags (is stdout a terminal, its
// width, the clock, sleeping between re-checks) comes in a WorkflowEnvironment, so tests run
// every mode in-process. Thread-compatible: no state between calls; a WatchPrinter belongs to
// one watch.
#ifndef OTAVERIFY_CLIENT_CLI_WORKFLOW_H_
#define OTAVERIFY_CLIENT_CLI_WORKFLOW_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/cli.h"
#include "client/cli_flags.h"
#include "client/client.h"
#include "otaverify/v1/ota_verify.pb.h"

namespace otaverify {

CliCommand StatusCommand();
CliCommand JobCommand();
CliCommand WatchCommand();
CliCommand CancelCommand();
CliCommand VerifyCommand();

struct WorkflowEnvironment {
  bool stdout_is_tty = false;
  // Columns of the terminal; the live table fits its lines to it.
  int terminal_width = 80;
  // For the clock times printed with each change.
  absl::TimeZone time_zone = absl::UTCTimeZone();
  std::function<absl::Time()> now = absl::Now;
  std::function<void(absl::Duration)> sleep;
  // `verify`: a firmware still VERIFYING once its job ended is read again up to this many
  // times, this far apart (the upstream settles the verdict a little after the last task).
  int recheck_attempts = 5;
  absl::Duration recheck_interval = absl::Seconds(1);
};

// isatty and the window size of stdout, the local time zone, the system clock and sleep.
WorkflowEnvironment WorkflowEnvironmentFromProcess();

enum class WatchOutput {
  kLiveTable,   // redrawn in place with ANSI cursor movement
  kPlainLines,  // one line per change, then a summary line
  kJsonLines,   // one protobuf JSON object per event and line
};

// --json wins; otherwise --tty=auto|always|never (auto: whether stdout is a terminal).
// INVALID_ARGUMENT naming --tty for any other value.
absl::StatusOr<WatchOutput> ChooseWatchOutput(const CliFlags& flags, bool stdout_is_tty);

// The task states `--states` names: comma-separated and/or repeated, case-insensitive, each
// one of queued, in_progress, notified, awaiting_confirmation (a TASK_STATE_ prefix is
// accepted). INVALID_ARGUMENT naming --states for anything else, an empty item included.
// Duplicates are passed on for the gateway to judge.
absl::StatusOr<std::vector<v1::TaskState>> ParseTaskStates(absl::Span<const std::string> values);

// Requests from the flags of `status`, `job`, `watch` and `cancel`. Required fields are left
// for the gateway to insist on.
v1::GetFirmwareVerificationRequest BuildGetFirmwareVerificationRequest(const CliFlags& flags);
v1::GetVerifyJobRequest BuildGetVerifyJobRequest(const CliFlags& flags);
v1::WatchVerifyJobRequest BuildWatchVerifyJobRequest(const CliFlags& flags);
// No --states leaves task_states empty: every unfinished task.
absl::StatusOr<v1::CancelVerifyJobRequest> BuildCancelVerifyJobRequest(const CliFlags& flags);

// Renders one watch: events as they arrive, then how the stream ended.
//   live:  the frame of cli_render.h LiveFrameLines, redrawn after every event; an
//          upstream_error becomes the frame's warning line.
//   plain: ChangeLines per job event; an upstream_error is one "warning:" line on `err`;
//          a SummaryLine when the stream ends OK.
//   JSON:  every event as one line; a failed stream ends with StatusToJson on `out`.
// In text modes a failed stream prints its status on `err` (cli_output.h).
// REQUIRES: `out` and `err` outlive the printer.
class WatchPrinter {
 public:
  WatchPrinter(WatchOutput output, int width, absl::TimeZone zone, std::ostream& out,
               std::ostream& err);

  void OnEvent(const v1::WatchVerifyJobResponse& event, absl::Time now);

  // Returns the exit status for `status`.
  int OnEnd(const absl::Status& status, const CallMetadata& metadata, absl::Time now);

  // The newest job snapshot, if any arrived.
  const std::optional<v1::VerifyJob>& last_job() const { return last_job_; }

 private:
  void Redraw();

  const WatchOutput output_;
  const int width_;
  const absl::TimeZone zone_;
  std::ostream& out_;
  std::ostream& err_;
  std::optional<v1::VerifyJob> last_job_;
  absl::Time updated_;
  std::string warning_;  // live mode: the newest upstream error
  int lines_drawn_ = 0;  // live mode: lines of the frame on screen
};

// The whole subcommands after flag parsing; each returns the exit status.
int RunWatch(const CliFlags& flags, const WorkflowEnvironment& env, std::ostream& out,
             std::ostream& err);
int RunVerify(const CliFlags& flags, const WorkflowEnvironment& env, std::ostream& out,
              std::ostream& err);

}  // namespace otaverify

#endif  // OTAVERIFY_CLIENT_CLI_WORKFLOW_H_

// Text renderings of the verify workflow for the `otaverify` CLI: state names, progress bars,
// the device table, the live `watch` frame, the plain change log and the `verify` verdict.
//
// Pure functions of their arguments: the time, time zone and terminal width are passed in, so
// tests pin every byte. Nothing here does I/O or talks to the gateway (cli_workflow.h does).
//
// Widths are counted in Unicode code points, which is the terminal's column count for the
// ASCII device names and states; a wide (CJK) description may still be cut a little late.
// Thread-safe: no state.
#ifndef OTAVERIFY_CLIENT_CLI_RENDER_H_
#define OTAVERIFY_CLIENT_CLI_RENDER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "otaverify/v1/ota_verify.pb.h"

namespace otaverify {

// Enum names without their prefix: "IN_PROGRESS" for TASK_STATE_IN_PROGRESS, "COMPLETED" for
// VERIFY_JOB_STATE_COMPLETED, "VERIFIED" for VERIFICATION_STATE_VERIFIED. A number this binary
// does not know (a newer server) is shown as the number.
std::string TaskStateName(v1::TaskState state);
std::string VerifyJobStateName(v1::VerifyJobState state);
std::string VerificationStateName(v1::VerificationState state);

// As above, except that an UNSPECIFIED state (one the gateway could not map) shows the
// upstream's own spelling when the message carries it.
std::string TaskStateDisplay(const v1::DeviceTask& task);
std::string JobStateDisplay(const v1::VerifyJob& job);
std::string VerificationStateDisplay(const v1::FirmwareVerification& firmware);

// "[##########----------]  50%": `cells` cells and the percentage, both rounded down so that
// 99.9 never shows as done. Out-of-range values are clamped to 0..100.
std::string ProgressBar(double percent, int cells = 20);

// "3 devices: 2 succeeded, 1 failed": tasks per state, finished states first, zero counts left
// out.
std::string TaskCounts(const v1::VerifyJob& job);

// `text` cut to at most `width` code points, the last one replaced by '~' when cut. A width
// of 0 or less means no limit.
std::string FitToWidth(absl::string_view text, int width);

// A header line and one row per task, in the upstream's order:
//   DEVICE            STATE        PROGRESS                     DESCRIPTION
//   demo-device-1     IN_PROGRESS  [##########----------]  50%
// Each line fits `width` (0: no limit); trailing blanks are trimmed.
std::vector<std::string> DeviceTableLines(const v1::VerifyJob& job, int width);

// `otaverify status`: one "name: value" line per field of interest.
std::string FormatFirmwareVerification(const v1::FirmwareVerification& firmware);

// `otaverify job`: the job's fields, then a blank line and the device table.
std::string FormatVerifyJob(const v1::VerifyJob& job);

// `otaverify cancel`: which task states were canceled, and the upstream request id.
std::string FormatCancelVerifyJobResult(const v1::CancelVerifyJobResponse& response);

// An upstream_error event in one line: "UNAVAILABLE: message [REASON] (upstream_request_id:
// ID)"; the reason and id only when the ErrorInfo carries them.
std::string UpstreamErrorText(const google::rpc::Status& status);

// The live `watch` frame: a header with the job's state and task counts, the device table,
// and `warning` (if not empty) as the last line. Every line fits `width`.
std::vector<std::string> LiveFrameLines(const v1::VerifyJob& job, absl::string_view warning,
                                        absl::Time updated, absl::TimeZone zone, int width);

// The ANSI sequence that replaces the `previous_lines` lines printed last (the cursor being on
// the line below them) by `lines`: cursor up, each line followed by clear-to-end-of-line, and
// clear-below in case the new frame is shorter.
std::string RedrawFrame(int previous_lines, const std::vector<std::string>& lines);

// The plain change log between two snapshots of a job, one line each:
//   "12:00:01 job JOB-1 IN_PROGRESS, 3 devices"        (first snapshot, or a job state change)
//   "12:00:01 demo-device-2 IN_PROGRESS 40%"            (a new task, or a changed state,
//   "12:00:07 demo-device-fail FAILED 30% - checksum mismatch after download"
//                                                        whole percentage or description)
// `previous` is null for the first snapshot. Tasks are matched by task id (device name when a
// task has none) and listed in the upstream's order.
std::vector<std::string> ChangeLines(const v1::VerifyJob* previous, const v1::VerifyJob& current,
                                     absl::Time now, absl::TimeZone zone);

// The last line of a plain watch: "12:00:09 done: job JOB-1 COMPLETED, 3 devices: ...".
std::string SummaryLine(const v1::VerifyJob& job, absl::Time now, absl::TimeZone zone);

// The outcome of `otaverify verify`, decided from the firmware's final state and the last
// snapshot of the job that was watched (null if none arrived).
struct Verdict {
  // 0 only for VERIFIED, else kVerificationFailedExitCode (cli_output.h).
  int exit_status = 0;
  // "verdict: FAILED", the firmware and job lines, then one line per task that did not
  // succeed: "demo-device-fail FAILED: checksum mismatch after download".
  std::vector<std::string> lines;
};
Verdict DecideVerdict(const v1::FirmwareVerification& firmware, const v1::VerifyJob* job);

}  // namespace otaverify

#endif  // OTAVERIFY_CLIENT_CLI_RENDER_H_

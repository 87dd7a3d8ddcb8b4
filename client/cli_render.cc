#include "client/cli_render.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/cli_output.h"
#include "google/rpc/error_details.pb.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

constexpr char kColumnGap[] = "  ";

std::string StripPrefix(const std::string& name, absl::string_view prefix, int number) {
  if (name.empty()) return absl::StrCat(number);
  return std::string(absl::StripPrefix(name, prefix));
}

// Code points in UTF-8 `text`: every byte that does not continue a sequence starts one.
int Columns(absl::string_view text) {
  int columns = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++columns;
  }
  return columns;
}

std::string PadRight(absl::string_view text, int columns) {
  std::string out(text);
  const int have = Columns(text);
  if (have < columns) out.append(static_cast<size_t>(columns - have), ' ');
  return out;
}

std::string TrimRight(std::string text) {
  text.erase(std::find_if_not(text.rbegin(), text.rend(), absl::ascii_isspace).base(), text.end());
  return text;
}

std::string Clock(absl::Time time, absl::TimeZone zone) {
  return absl::FormatTime("%H:%M:%S", time, zone);
}

// Where a state sorts among the counts: finished outcomes first, then the way to them.
int CountRank(v1::TaskState state) {
  switch (state) {
    case v1::TASK_STATE_SUCCEEDED:
      return 0;
    case v1::TASK_STATE_FAILED:
      return 1;
    case v1::TASK_STATE_CANCELED:
      return 2;
    case v1::TASK_STATE_IN_PROGRESS:
      return 3;
    case v1::TASK_STATE_NOTIFIED:
      return 4;
    case v1::TASK_STATE_QUEUED:
      return 5;
    case v1::TASK_STATE_AWAITING_CONFIRMATION:
      return 6;
    default:
      return 7;
  }
}

int WholePercent(double percent) {
  if (!(percent > 0)) return 0;  // also NaN
  if (percent >= 100) return 100;
  return static_cast<int>(std::floor(percent));
}

std::string DeviceLabel(const v1::DeviceTask& task) {
  if (!task.device_name().empty()) return task.device_name();
  if (!task.iot_id().empty()) return task.iot_id();
  return task.task_id();
}

std::string TaskKey(const v1::DeviceTask& task) {
  return task.task_id().empty() ? absl::StrCat("device:", task.device_name()) : task.task_id();
}

std::string TaskLine(const v1::DeviceTask& task, absl::Time now, absl::TimeZone zone) {
  std::string line =
      absl::StrCat(Clock(now, zone), " ", DeviceLabel(task), " ", TaskStateDisplay(task), " ",
                   WholePercent(task.progress_percent()), "%");
  if (!task.description().empty()) absl::StrAppend(&line, " - ", task.description());
  return line;
}

std::string DownloadProtocolName(v1::DownloadProtocol protocol) {
  if (protocol == v1::DOWNLOAD_PROTOCOL_UNSPECIFIED) return "default";
  return StripPrefix(v1::DownloadProtocol_Name(protocol), "DOWNLOAD_PROTOCOL_",
                     static_cast<int>(protocol));
}

// A full package (no source version) updates from any version.
std::string Versions(absl::string_view from, absl::string_view to) {
  return absl::StrCat(from.empty() ? "any" : from, " -> ", to.empty() ? "?" : to);
}

}  // namespace

std::string TaskStateName(v1::TaskState state) {
  return StripPrefix(v1::TaskState_Name(state), "TASK_STATE_", static_cast<int>(state));
}

std::string VerifyJobStateName(v1::VerifyJobState state) {
  return StripPrefix(v1::VerifyJobState_Name(state), "VERIFY_JOB_STATE_", static_cast<int>(state));
}

std::string VerificationStateName(v1::VerificationState state) {
  return StripPrefix(v1::VerificationState_Name(state), "VERIFICATION_STATE_",
                     static_cast<int>(state));
}

std::string TaskStateDisplay(const v1::DeviceTask& task) {
  if (task.state() == v1::TASK_STATE_UNSPECIFIED && !task.upstream_task_status().empty()) {
    return task.upstream_task_status();
  }
  return TaskStateName(task.state());
}

std::string JobStateDisplay(const v1::VerifyJob& job) {
  if (job.state() == v1::VERIFY_JOB_STATE_UNSPECIFIED && !job.upstream_job_status().empty()) {
    return job.upstream_job_status();
  }
  return VerifyJobStateName(job.state());
}

std::string VerificationStateDisplay(const v1::FirmwareVerification& firmware) {
  if (firmware.state() == v1::VERIFICATION_STATE_UNSPECIFIED) {
    return absl::StrCat("UNSPECIFIED (upstream status ", firmware.upstream_status(), ")");
  }
  return VerificationStateName(firmware.state());
}

std::string ProgressBar(double percent, int cells) {
  const int whole = WholePercent(percent);
  const int filled = whole * cells / 100;
  return absl::StrFormat("[%s%s] %3d%%", std::string(static_cast<size_t>(filled), '#'),
                         std::string(static_cast<size_t>(cells - filled), '-'), whole);
}

std::string TaskCounts(const v1::VerifyJob& job) {
  // Keyed by rank, then display name, so unknown upstream states each get their own count.
  std::map<std::pair<int, std::string>, int> counts;
  for (const v1::DeviceTask& task : job.tasks()) {
    ++counts[{CountRank(task.state()), absl::AsciiStrToLower(TaskStateDisplay(task))}];
  }
  std::vector<std::string> parts;
  for (const auto& [key, count] : counts) parts.push_back(absl::StrCat(count, " ", key.second));
  std::string out = absl::StrCat(job.tasks_size(), job.tasks_size() == 1 ? " device" : " devices");
  if (!parts.empty()) absl::StrAppend(&out, ": ", absl::StrJoin(parts, ", "));
  return out;
}

std::string FitToWidth(absl::string_view text, int width) {
  if (width <= 0 || Columns(text) <= width) return std::string(text);
  // Keep width - 1 code points and mark the cut.
  int kept = 0;
  size_t end = 0;
  while (end < text.size()) {
    if ((static_cast<unsigned char>(text[end]) & 0xC0) != 0x80) {
      if (kept == width - 1) break;
      ++kept;
    }
    ++end;
  }
  return absl::StrCat(text.substr(0, end), "~");
}

std::vector<std::string> DeviceTableLines(const v1::VerifyJob& job, int width) {
  int device_width = Columns("DEVICE");
  int state_width = Columns("STATE");
  for (const v1::DeviceTask& task : job.tasks()) {
    device_width = std::max(device_width, Columns(DeviceLabel(task)));
    state_width = std::max(state_width, Columns(TaskStateDisplay(task)));
  }
  const int progress_width = Columns(ProgressBar(0));
  const auto row = [&](absl::string_view device, absl::string_view state,
                       absl::string_view progress, absl::string_view description) {
    return FitToWidth(TrimRight(absl::StrCat(
                          PadRight(device, device_width), kColumnGap, PadRight(state, state_width),
                          kColumnGap, PadRight(progress, progress_width), kColumnGap, description)),
                      width);
  };
  std::vector<std::string> lines;
  lines.push_back(row("DEVICE", "STATE", "PROGRESS", "DESCRIPTION"));
  for (const v1::DeviceTask& task : job.tasks()) {
    lines.push_back(row(DeviceLabel(task), TaskStateDisplay(task),
                        ProgressBar(task.progress_percent()), task.description()));
  }
  return lines;
}

std::string FormatFirmwareVerification(const v1::FirmwareVerification& firmware) {
  std::string out = absl::StrCat("firmware_id: ", firmware.firmware_id(), "\n");
  if (!firmware.firmware_name().empty()) {
    absl::StrAppend(&out, "firmware_name: ", firmware.firmware_name(), "\n");
  }
  if (!firmware.product_key().empty()) {
    absl::StrAppend(&out, "product_key: ", firmware.product_key(), "\n");
  }
  absl::StrAppend(&out, "versions: ", Versions(firmware.src_version(), firmware.dest_version()),
                  "\n", "state: ", VerificationStateDisplay(firmware), "\n",
                  "progress: ", ProgressBar(firmware.progress_percent()), "\n");
  if (firmware.verify_job_id().empty()) {
    absl::StrAppend(&out, "verify_job: none\n");
  } else {
    absl::StrAppend(&out, "verify_job_id: ", firmware.verify_job_id(), "\n",
                    "verify_job_state: ", VerifyJobStateName(firmware.verify_job_state()), "\n");
  }
  if (!firmware.upstream_request_id().empty()) {
    absl::StrAppend(&out, "upstream_request_id: ", firmware.upstream_request_id(), "\n");
  }
  return out;
}

std::string FormatVerifyJob(const v1::VerifyJob& job) {
  std::string out = absl::StrCat("job_id: ", job.job_id(), "\n", "state: ", JobStateDisplay(job),
                                 "\n", "finished: ", job.finished() ? "true" : "false", "\n");
  if (!job.firmware_id().empty()) absl::StrAppend(&out, "firmware_id: ", job.firmware_id(), "\n");
  if (!job.product_key().empty()) absl::StrAppend(&out, "product_key: ", job.product_key(), "\n");
  if (!job.dest_version().empty()) {
    absl::StrAppend(&out, "dest_version: ", job.dest_version(), "\n");
  }
  const std::pair<absl::string_view, const google::protobuf::Timestamp*> times[] = {
      {"create_time", job.has_create_time() ? &job.create_time() : nullptr},
      {"start_time", job.has_start_time() ? &job.start_time() : nullptr},
      {"end_time", job.has_end_time() ? &job.end_time() : nullptr},
      {"modify_time", job.has_modify_time() ? &job.modify_time() : nullptr},
  };
  for (const auto& [name, time] : times) {
    if (time != nullptr) absl::StrAppend(&out, name, ": ", FormatTimestamp(*time), "\n");
  }
  absl::StrAppend(&out, "timeout_in_minutes: ",
                  job.has_timeout_in_minutes() ? absl::StrCat(job.timeout_in_minutes()) : "none",
                  "\n", "need_push: ", job.need_push() ? "true" : "false", "\n",
                  "need_confirm: ", job.need_confirm() ? "true" : "false", "\n",
                  "download_protocol: ", DownloadProtocolName(job.download_protocol()), "\n");
  std::vector<std::string> tags;
  for (const v1::Tag& tag : job.tags()) tags.push_back(absl::StrCat(tag.key(), "=", tag.value()));
  absl::StrAppend(&out, "tags: ", tags.empty() ? "none" : absl::StrJoin(tags, ", "), "\n",
                  "devices: ", TaskCounts(job), "\n\n");
  for (const std::string& line : DeviceTableLines(job, 0)) absl::StrAppend(&out, line, "\n");
  return out;
}

std::string FormatCancelVerifyJobResult(const v1::CancelVerifyJobResponse& response) {
  std::vector<std::string> states;
  for (const int state : response.canceled_states()) {
    states.push_back(TaskStateName(static_cast<v1::TaskState>(state)));
  }
  std::string out = absl::StrCat(
      "canceled tasks in states: ", states.empty() ? "none" : absl::StrJoin(states, ", "), "\n");
  if (!response.upstream_request_id().empty()) {
    absl::StrAppend(&out, "upstream_request_id: ", response.upstream_request_id(), "\n");
  }
  return out;
}

std::string UpstreamErrorText(const google::rpc::Status& status) {
  const absl::Status error = FromRpcStatus(status);
  std::string out = absl::StrCat(StatusCodeName(error.code()), ": ", error.message());
  if (const auto info = GetDetail<google::rpc::ErrorInfo>(error); info.has_value()) {
    if (!info->reason().empty()) absl::StrAppend(&out, " [", info->reason(), "]");
    const auto id = info->metadata().find("upstream_request_id");
    if (id != info->metadata().end()) {
      absl::StrAppend(&out, " (upstream_request_id: ", id->second, ")");
    }
  }
  return out;
}

std::vector<std::string> LiveFrameLines(const v1::VerifyJob& job, absl::string_view warning,
                                        absl::Time updated, absl::TimeZone zone, int width) {
  std::vector<std::string> lines;
  lines.push_back(FitToWidth(
      absl::StrCat("job ", job.job_id(), "  ", JobStateDisplay(job),
                   job.finished() ? " (finished)" : "", "  updated ", Clock(updated, zone)),
      width));
  lines.push_back(FitToWidth(TaskCounts(job), width));
  lines.push_back("");
  for (std::string& line : DeviceTableLines(job, width)) lines.push_back(std::move(line));
  if (!warning.empty()) lines.push_back(FitToWidth(warning, width));
  return lines;
}

std::string RedrawFrame(int previous_lines, const std::vector<std::string>& lines) {
  std::string out;
  if (previous_lines > 0) absl::StrAppend(&out, "\r\x1b[", previous_lines, "A");
  for (const std::string& line : lines) absl::StrAppend(&out, line, "\x1b[K\n");
  absl::StrAppend(&out, "\x1b[J");
  return out;
}

std::vector<std::string> ChangeLines(const v1::VerifyJob* previous, const v1::VerifyJob& current,
                                     absl::Time now, absl::TimeZone zone) {
  std::vector<std::string> lines;
  if (previous == nullptr) {
    lines.push_back(absl::StrCat(Clock(now, zone), " job ", current.job_id(), " ",
                                 JobStateDisplay(current), ", ", current.tasks_size(),
                                 current.tasks_size() == 1 ? " device" : " devices"));
  } else if (JobStateDisplay(*previous) != JobStateDisplay(current)) {
    lines.push_back(
        absl::StrCat(Clock(now, zone), " job ", current.job_id(), " ", JobStateDisplay(current)));
  }
  std::map<std::string, const v1::DeviceTask*> before;
  if (previous != nullptr) {
    for (const v1::DeviceTask& task : previous->tasks()) before[TaskKey(task)] = &task;
  }
  for (const v1::DeviceTask& task : current.tasks()) {
    const auto it = before.find(TaskKey(task));
    const bool changed =
        it == before.end() || TaskStateDisplay(*it->second) != TaskStateDisplay(task) ||
        WholePercent(it->second->progress_percent()) != WholePercent(task.progress_percent()) ||
        it->second->description() != task.description();
    if (changed) lines.push_back(TaskLine(task, now, zone));
  }
  return lines;
}

std::string SummaryLine(const v1::VerifyJob& job, absl::Time now, absl::TimeZone zone) {
  return absl::StrCat(Clock(now, zone), " done: job ", job.job_id(), " ", JobStateDisplay(job),
                      ", ", TaskCounts(job));
}

Verdict DecideVerdict(const v1::FirmwareVerification& firmware, const v1::VerifyJob* job) {
  Verdict verdict;
  const bool verified = firmware.state() == v1::VERIFICATION_STATE_VERIFIED;
  verdict.exit_status = verified ? 0 : kVerificationFailedExitCode;
  verdict.lines.push_back(absl::StrCat("verdict: ", VerificationStateDisplay(firmware)));
  verdict.lines.push_back(absl::StrCat("firmware: ", firmware.firmware_id(), " ",
                                       Versions(firmware.src_version(), firmware.dest_version()),
                                       ", progress ", WholePercent(firmware.progress_percent()),
                                       "%"));
  if (job == nullptr) return verdict;
  verdict.lines.push_back(
      absl::StrCat("job: ", job->job_id(), " ", JobStateDisplay(*job), ", ", TaskCounts(*job)));
  for (const v1::DeviceTask& task : job->tasks()) {
    if (task.state() == v1::TASK_STATE_SUCCEEDED) continue;
    // Tasks still under way are noise once the firmware is verified.
    if (verified && task.state() != v1::TASK_STATE_FAILED &&
        task.state() != v1::TASK_STATE_CANCELED) {
      continue;
    }
    verdict.lines.push_back(
        absl::StrCat(DeviceLabel(task), " ", TaskStateDisplay(task), ": ",
                     task.description().empty() ? "(no description)" : task.description()));
  }
  return verdict;
}

}  // namespace otaverify

#include "client/load_recorder.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "google/rpc/error_details.pb.h"
#include "service/common/json.h"
#include "service/status/rich_status.h"

namespace otaverify {

void LoadRecorder::Record(absl::Time started, absl::Duration latency, const absl::Status& status) {
  answered_.fetch_add(1, std::memory_order_relaxed);
  if (started < measure_from_) return;
  std::string outcome = StatusCodeName(status.code());
  if (auto info = GetDetail<google::rpc::ErrorInfo>(status)) {
    absl::StrAppend(&outcome, " ", info->reason());
  }
  absl::MutexLock lock(&mu_);
  latencies_.push_back(latency);
  ++outcomes_[outcome];
}

std::string LoadRecorder::JsonMembers(absl::Duration measured) {
  absl::MutexLock lock(&mu_);
  std::sort(latencies_.begin(), latencies_.end());
  auto percentile = [this](double p) {
    if (latencies_.empty()) return 0.0;
    const size_t i =
        std::min(latencies_.size() - 1, static_cast<size_t>(p / 100.0 * latencies_.size()));
    return absl::ToDoubleMilliseconds(latencies_[i]);
  };
  std::string codes;
  for (const auto& [outcome, n] : outcomes_) {
    absl::StrAppend(&codes, codes.empty() ? "" : ",", JsonQuote(outcome), ":", n);
  }
  return absl::StrFormat(
      R"("calls":%d,"calls_total":%d,"seconds":%.3f,"calls_per_second":%.1f,"latency_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"p99.9":%.3f},"outcomes":{%s})",
      latencies_.size(), answered_.load(), absl::ToDoubleSeconds(measured),
      latencies_.size() / std::max(1e-9, absl::ToDoubleSeconds(measured)), percentile(50),
      percentile(90), percentile(99), percentile(99.9), codes);
}

absl::StatusOr<absl::Duration> ProcessCpuTime() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; fields are counted after its closing ')'.
  const size_t close = text.rfind(')');
  std::vector<std::string> fields;
  if (close != std::string::npos && close + 2 < text.size()) {
    fields = absl::StrSplit(text.substr(close + 2), ' ');
  }
  // After ')': field 3 is fields[0], so utime (14) is fields[11] and stime (15) fields[12].
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::UnavailableError("cannot read utime and stime from /proc/self/stat");
  }
  return absl::Seconds(static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK));
}

}  // namespace otaverify

#include "emulator/stats.h"

#include "emulator/response.h"

namespace otaverify {
namespace emulator {
namespace {

void Bump(std::map<std::string, int64_t>* counts, absl::string_view key) {
  auto it = counts->find(std::string(key));
  if (it != counts->end()) {
    ++it->second;
  } else if (counts->size() < EmulatorStats::kMaxKeys) {
    (*counts)[std::string(key)] = 1;
  } else {
    ++(*counts)["other"];
  }
}

Doc CountsDoc(const std::map<std::string, int64_t>& counts) {
  Doc doc;
  for (const auto& [key, count] : counts) doc.Int(key, count);
  return doc;
}

}  // namespace

void EmulatorStats::RecordRequest(absl::string_view action, absl::string_view outcome) {
  absl::MutexLock lock(&mu_);
  ++requests_total_;
  if (!action.empty()) Bump(&by_action_, action);
  Bump(&by_outcome_, outcome);
}

void EmulatorStats::Reset() {
  connections_accepted_.store(0, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  requests_total_ = 0;
  by_action_.clear();
  by_outcome_.clear();
}

StatsSnapshot EmulatorStats::Snapshot() const {
  StatsSnapshot out;
  out.connections_accepted = connections_accepted_.load(std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  out.requests_total = requests_total_;
  out.requests_by_action = by_action_;
  out.requests_by_outcome = by_outcome_;
  return out;
}

std::string EmulatorStats::ToJson() const {
  const StatsSnapshot snapshot = Snapshot();
  Doc doc;
  doc.Int("connections_accepted", snapshot.connections_accepted)
      .Int("requests_total", snapshot.requests_total)
      .Obj("requests_by_action", CountsDoc(snapshot.requests_by_action))
      .Obj("requests_by_outcome", CountsDoc(snapshot.requests_by_outcome));
  return doc.ToJson();
}

}  // namespace emulator
}  // namespace otaverify

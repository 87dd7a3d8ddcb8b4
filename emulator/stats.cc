#include "emulator/stats.h"

#include <utility>

#include "absl/strings/str_cat.h"
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

void EmulatorStats::RecordFault(absl::string_view action, absl::string_view name) {
  absl::MutexLock lock(&mu_);
  ++requests_total_;
  if (!action.empty()) Bump(&by_action_, action);
  Bump(&by_outcome_, absl::StrCat("fault:", name));
  Bump(&faults_, name);
}

void EmulatorStats::SetTlsSource(std::function<TlsHandshakeCounts()> source) {
  tls_source_ = std::move(source);
}

void EmulatorStats::Reset() {
  connections_accepted_.store(0, std::memory_order_relaxed);
  const TlsHandshakeCounts tls = tls_source_ ? tls_source_() : TlsHandshakeCounts{};
  absl::MutexLock lock(&mu_);
  requests_total_ = 0;
  by_action_.clear();
  by_outcome_.clear();
  faults_.clear();
  tls_baseline_ = tls;
}

StatsSnapshot EmulatorStats::Snapshot() const {
  StatsSnapshot out;
  out.connections_accepted = connections_accepted_.load(std::memory_order_relaxed);
  const TlsHandshakeCounts tls = tls_source_ ? tls_source_() : TlsHandshakeCounts{};
  absl::MutexLock lock(&mu_);
  out.requests_total = requests_total_;
  out.requests_by_action = by_action_;
  out.requests_by_outcome = by_outcome_;
  out.faults_injected = faults_;
  out.tls_handshakes_full = tls.full - tls_baseline_.full;
  out.tls_handshakes_resumed = tls.resumed - tls_baseline_.resumed;
  return out;
}

std::string EmulatorStats::ToJson() const {
  const StatsSnapshot snapshot = Snapshot();
  Doc doc;
  doc.Int("connections_accepted", snapshot.connections_accepted)
      .Int("tls_handshakes_full", snapshot.tls_handshakes_full)
      .Int("tls_handshakes_resumed", snapshot.tls_handshakes_resumed)
      .Int("requests_total", snapshot.requests_total)
      .Obj("requests_by_action", CountsDoc(snapshot.requests_by_action))
      .Obj("requests_by_outcome", CountsDoc(snapshot.requests_by_outcome))
      .Obj("faults_injected", CountsDoc(snapshot.faults_injected));
  return doc.ToJson();
}

}  // namespace emulator
}  // namespace otaverify

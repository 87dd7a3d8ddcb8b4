#include "emulator/stats.h"

#include <iterator>
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

void EmulatorStats::RecordImdsRequest(absl::string_view kind) {
  absl::MutexLock lock(&mu_);
  Bump(&imds_, kind);
}

void EmulatorStats::RecordImdsFault(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  Bump(&faults_, name);
}

void EmulatorStats::RecordStsRequest(absl::string_view action, absl::string_view outcome) {
  absl::MutexLock lock(&mu_);
  std::string key(action.empty() ? "none" : action);
  if (sts_.count(key) == 0 && sts_.size() >= kMaxKeys) key = "other";
  Bump(&sts_[key], outcome);
}

void EmulatorStats::RecordCredentialsIssued(absl::string_view source) {
  absl::MutexLock lock(&mu_);
  ++credentials_issued_;
  Bump(&issued_by_source_, source);
}

void EmulatorStats::RecordAccepted(absl::string_view action, int64_t unix_second) {
  absl::MutexLock lock(&mu_);
  std::string key(action);
  if (accepted_.count(key) == 0 && accepted_.size() >= kMaxKeys) key = "other";
  const bool newer = accepted_.empty() || unix_second > newest_accepted_second_;
  if (newer) newest_accepted_second_ = unix_second;
  const int64_t oldest_kept = newest_accepted_second_ - kAcceptedWindowSeconds + 1;
  if (unix_second >= oldest_kept) ++accepted_[key][unix_second];
  if (!newer) return;
  for (auto it = accepted_.begin(); it != accepted_.end();) {
    std::map<int64_t, int64_t>& seconds = it->second;
    seconds.erase(seconds.begin(), seconds.lower_bound(oldest_kept));
    it = seconds.empty() ? accepted_.erase(it) : std::next(it);
  }
}

void EmulatorStats::RecordThrottled(absl::string_view action) {
  absl::MutexLock lock(&mu_);
  Bump(&throttled_, action);
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
  imds_.clear();
  sts_.clear();
  credentials_issued_ = 0;
  issued_by_source_.clear();
  accepted_.clear();
  newest_accepted_second_ = 0;
  throttled_.clear();
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
  out.imds_requests = imds_;
  out.sts_requests = sts_;
  out.credentials_issued = credentials_issued_;
  out.credentials_issued_by_source = issued_by_source_;
  out.accepted_per_second = accepted_;
  out.throttled = throttled_;
  out.tls_handshakes_full = tls.full - tls_baseline_.full;
  out.tls_handshakes_resumed = tls.resumed - tls_baseline_.resumed;
  return out;
}

std::string EmulatorStats::ToJson(bool quota_section) const {
  const StatsSnapshot snapshot = Snapshot();
  Doc doc;
  doc.Int("connections_accepted", snapshot.connections_accepted)
      .Int("tls_handshakes_full", snapshot.tls_handshakes_full)
      .Int("tls_handshakes_resumed", snapshot.tls_handshakes_resumed)
      .Int("requests_total", snapshot.requests_total)
      .Obj("requests_by_action", CountsDoc(snapshot.requests_by_action))
      .Obj("requests_by_outcome", CountsDoc(snapshot.requests_by_outcome))
      .Obj("faults_injected", CountsDoc(snapshot.faults_injected));
  if (quota_section || !snapshot.throttled.empty()) {
    Doc accepted;
    for (const auto& [action, seconds] : snapshot.accepted_per_second) {
      Doc per_second;
      for (const auto& [second, count] : seconds) per_second.Int(absl::StrCat(second), count);
      accepted.Obj(action, std::move(per_second));
    }
    doc.Obj("accepted_per_second", std::move(accepted))
        .Obj("throttled", CountsDoc(snapshot.throttled));
  }
  // The credential counters appear once there is something to count, so the body of an
  // emulator used for the IoT API only stays what it was (README.md: absent = all zero).
  if (!snapshot.imds_requests.empty() || !snapshot.sts_requests.empty() ||
      snapshot.credentials_issued != 0) {
    Doc sts;
    for (const auto& [action, outcomes] : snapshot.sts_requests) {
      sts.Obj(action, CountsDoc(outcomes));
    }
    doc.Obj("imds_requests", CountsDoc(snapshot.imds_requests))
        .Obj("sts_requests", std::move(sts))
        .Int("credentials_issued", snapshot.credentials_issued)
        .Obj("credentials_issued_by_source", CountsDoc(snapshot.credentials_issued_by_source));
  }
  return doc.ToJson();
}

}  // namespace emulator
}  // namespace otaverify

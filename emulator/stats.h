// EmulatorStats: counters served at GET /_emulator/stats, so tests and benchmarks can see what
// the emulator saw — real TCP connections accepted (to check connection reuse), requests by
// action and by outcome ("success", the error Code, or "fault:<name>"), faults injected by name,
// and — when serving TLS — full and resumed handshakes, so a test can prove a client reuses TLS
// connections and sessions. For the credential sources: IMDS requests by path kind, STS
// requests by action and outcome, and STS credentials issued (by IMDS, AssumeRoleWithOIDC or
// AssumeRole), so a test can prove exactly one upstream credential fetch. For quotas
// (quota.h): requests admitted per action per unix second over the last two minutes, so a test
// can prove "at most N per second", and requests throttled by action.
//
// Thread-safe: the connection counter is atomic (bumped on the accept thread), the maps are
// guarded by a mutex. Map keys come from requests, so their number is capped. The TLS counters
// are read from their source (OpenSSL's per-SSL_CTX counters) when a snapshot is taken.
#ifndef OTAVERIFY_EMULATOR_STATS_H_
#define OTAVERIFY_EMULATOR_STATS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace otaverify {
namespace emulator {

struct StatsSnapshot {
  int64_t connections_accepted = 0;
  int64_t requests_total = 0;
  std::map<std::string, int64_t> requests_by_action;
  std::map<std::string, int64_t> requests_by_outcome;
  std::map<std::string, int64_t> faults_injected;
  int64_t tls_handshakes_full = 0;
  int64_t tls_handshakes_resumed = 0;
  std::map<std::string, int64_t> imds_requests;  // "token", "role", "credentials", "other"
  // action -> outcome ("success", the error Code, "fault:<name>") -> count
  std::map<std::string, std::map<std::string, int64_t>> sts_requests;
  int64_t credentials_issued = 0;
  std::map<std::string, int64_t> credentials_issued_by_source;  // "imds", "AssumeRole", ...
  // action -> unix second -> requests admitted past the quota check (whether quotas are on or
  // off); the kAcceptedWindowSeconds up to the newest second recorded.
  std::map<std::string, std::map<int64_t, int64_t>> accepted_per_second;
  std::map<std::string, int64_t> throttled;  // action -> requests refused by the quota
};

// Cumulative handshake counts since the server started.
struct TlsHandshakeCounts {
  int64_t full = 0;
  int64_t resumed = 0;
};

class EmulatorStats {
 public:
  // Distinct keys kept per map; later ones are counted under "other".
  static constexpr size_t kMaxKeys = 256;
  // accepted_per_second keeps this many seconds.
  static constexpr int64_t kAcceptedWindowSeconds = 120;

  void RecordConnection() { connections_accepted_.fetch_add(1, std::memory_order_relaxed); }
  // `action` may be empty when the request never named one.
  void RecordRequest(absl::string_view action, absl::string_view outcome);
  // A faulted request: counted as a request with outcome "fault:<name>" and under
  // faults_injected.
  void RecordFault(absl::string_view action, absl::string_view name);
  // An IMDS request (any outcome), by path kind; not counted in requests_total.
  void RecordImdsRequest(absl::string_view kind);
  // An IMDS request answered by an armed fault: counted under faults_injected.
  void RecordImdsFault(absl::string_view name);
  // An STS request, in addition to RecordRequest / RecordFault.
  void RecordStsRequest(absl::string_view action, absl::string_view outcome);
  void RecordCredentialsIssued(absl::string_view source);
  // A request of a quota action (quota.h) that passed the quota check at `unix_second`
  // (enforcement on or off); RecordRequest counts it as usual.
  void RecordAccepted(absl::string_view action, int64_t unix_second);
  // A request refused by the quota; RecordRequest counts its Throttling.User outcome.
  void RecordThrottled(absl::string_view action);
  // REQUIRES: called before the server starts serving, at most once. `source` must be
  // thread-safe and outlive the stats.
  void SetTlsSource(std::function<TlsHandshakeCounts()> source);
  // Zeroes every counter (the TLS ones by remembering their current values).
  void Reset();

  StatsSnapshot Snapshot() const;
  // `quota_section`: include "accepted_per_second" and "throttled" (they are also included
  // once anything was throttled). Left out otherwise, so the body of an emulator that never
  // enforced quotas stays as it was.
  std::string ToJson(bool quota_section = false) const;

 private:
  std::atomic<int64_t> connections_accepted_{0};
  mutable absl::Mutex mu_;
  int64_t requests_total_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> by_action_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> by_outcome_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> faults_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> imds_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, int64_t>> sts_ ABSL_GUARDED_BY(mu_);
  int64_t credentials_issued_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> issued_by_source_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<int64_t, int64_t>> accepted_ ABSL_GUARDED_BY(mu_);
  int64_t newest_accepted_second_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> throttled_ ABSL_GUARDED_BY(mu_);
  std::function<TlsHandshakeCounts()> tls_source_;  // immutable once serving
  TlsHandshakeCounts tls_baseline_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_STATS_H_

// EmulatorStats: counters served at GET /_emulator/stats, so tests and benchmarks can see what
// the emulator saw — real TCP connections accepted (to check connection reuse), requests by
// action and by outcome ("success" or the error Code).
//
// Thread-safe: the connection counter is atomic (bumped on the accept thread), the maps are
// guarded by a mutex. Map keys come from requests, so their number is capped.
#ifndef OTAVERIFY_EMULATOR_STATS_H_
#define OTAVERIFY_EMULATOR_STATS_H_

#include <atomic>
#include <cstdint>
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
};

class EmulatorStats {
 public:
  // Distinct keys kept per map; later ones are counted under "other".
  static constexpr size_t kMaxKeys = 256;

  void RecordConnection() { connections_accepted_.fetch_add(1, std::memory_order_relaxed); }
  // `action` may be empty when the request never named one.
  void RecordRequest(absl::string_view action, absl::string_view outcome);
  void Reset();

  StatsSnapshot Snapshot() const;
  std::string ToJson() const;

 private:
  std::atomic<int64_t> connections_accepted_{0};
  mutable absl::Mutex mu_;
  int64_t requests_total_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> by_action_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> by_outcome_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_STATS_H_

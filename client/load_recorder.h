// LoadRecorder: what a load run measured — latencies of the calls started after warm-up,
// outcomes by gRPC code and ErrorInfo reason — shared by the load generator and the benchmark
// clients so every scenario reports the same figures the same way; ProcessCpuTime gives them
// their own CPU cost.
//
// Thread-safe: Record runs on the callbacks of any thread.
#ifndef OTAVERIFY_CLIENT_LOAD_RECORDER_H_
#define OTAVERIFY_CLIENT_LOAD_RECORDER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otaverify {

class LoadRecorder {
 public:
  // Calls started before `measure_from` (warm-up) are counted as answered only.
  explicit LoadRecorder(absl::Time measure_from) : measure_from_(measure_from) {}

  void Record(absl::Time started, absl::Duration latency, const absl::Status& status);

  // Every call answered, warm-up included.
  int64_t answered() const { return answered_.load(std::memory_order_relaxed); }

  // The measured figures as JSON members, without braces: calls, calls_total, seconds,
  // calls_per_second, latency_ms {p50, p90, p99, p99.9}, outcomes.
  std::string JsonMembers(absl::Duration measured);

 private:
  const absl::Time measure_from_;
  std::atomic<int64_t> answered_{0};
  absl::Mutex mu_;
  std::vector<absl::Duration> latencies_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> outcomes_ ABSL_GUARDED_BY(mu_);
};

// CPU time (user + system) this process has used so far, from /proc/self/stat; UNAVAILABLE if
// it cannot be read. A load client's own cost per call is the difference over a run.
absl::StatusOr<absl::Duration> ProcessCpuTime();

}  // namespace otaverify

#endif  // OTAVERIFY_CLIENT_LOAD_RECORDER_H_

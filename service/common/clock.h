// Clock: the seam through which the gateway and the emulator read time, so tests can pin it.
// Implementations are thread-safe.
#ifndef OTAVERIFY_SERVICE_COMMON_CLOCK_H_
#define OTAVERIFY_SERVICE_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace otaverify {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// Wall-clock time, optionally shifted by a fixed skew (the emulator's --clock_skew).
class SystemClock : public Clock {
 public:
  explicit SystemClock(absl::Duration skew = absl::ZeroDuration()) : skew_(skew) {}
  absl::Time Now() const override { return absl::Now() + skew_; }

 private:
  const absl::Duration skew_;
};

// Time that moves only when told to; for tests.
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time now) : now_(now) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time now) {
    absl::MutexLock lock(&mu_);
    now_ = now;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_COMMON_CLOCK_H_

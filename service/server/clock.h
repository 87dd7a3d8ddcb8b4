// Clock: the seam through which the gateway reads time, so tests can pin it.
// Thread-safe.
#ifndef OTAVERIFY_SERVICE_SERVER_CLOCK_H_
#define OTAVERIFY_SERVICE_SERVER_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace otaverify {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_CLOCK_H_

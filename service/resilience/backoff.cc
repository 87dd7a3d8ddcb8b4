#include "service/resilience/backoff.h"

#include <algorithm>
#include <cstdint>

#include "absl/random/distributions.h"

namespace otaverify {

absl::Duration FullJitterBackoff(int attempt, absl::Duration base, absl::Duration cap,
                                 absl::BitGenRef random) {
  // Saturating conversions: an infinite cap becomes the largest representable window.
  const int64_t base_ns = std::max<int64_t>(0, absl::ToInt64Nanoseconds(base));
  const int64_t cap_ns = std::max<int64_t>(0, absl::ToInt64Nanoseconds(cap));
  int64_t window = std::min(base_ns, cap_ns);
  // Doubling stops at the cap, so this runs at most ~63 times whatever `attempt` is, and the
  // comparison before each doubling keeps it from overflowing.
  for (int i = 1; i < attempt && window > 0 && window < cap_ns; ++i) {
    window = window > cap_ns / 2 ? cap_ns : window * 2;
  }
  if (window == 0) return absl::ZeroDuration();
  return absl::Nanoseconds(
      absl::Uniform<int64_t>(absl::IntervalClosedClosed, random, int64_t{0}, window));
}

}  // namespace otaverify

// Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff and Jitter"):
// the wait before retry n is uniform in [0, min(cap, base * 2^(n-1))]. Spreading retries over the
// whole window, rather than around its end, keeps clients that failed together from retrying
// together — which matters most for Throttling, where a synchronised retry wave is throttled again.
//
// Pure: the randomness is a parameter. The generator is not thread-safe (absl::BitGen is not);
// the caller keeps one per thread or guards it.
#ifndef OTAVERIFY_SERVICE_RESILIENCE_BACKOFF_H_
#define OTAVERIFY_SERVICE_RESILIENCE_BACKOFF_H_

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"

namespace otaverify {

// `attempt` counts retries from 1 (the wait before the first retry); values below 1 are taken
// as 1. Any attempt count is safe: the window stops doubling once it reaches `cap`. Negative
// `base` or `cap` are taken as zero. Nanosecond resolution. Accepts an absl::BitGen& (or any
// URBG, so tests can pass a seeded engine).
absl::Duration FullJitterBackoff(int attempt, absl::Duration base, absl::Duration cap,
                                 absl::BitGenRef random);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_RESILIENCE_BACKOFF_H_

// FullJitterBackoff: the window, the cap, the spread, and attempt counts that could overflow.
#include "service/resilience/backoff.h"

#include <algorithm>
#include <climits>
#include <random>

#include "absl/random/random.h"
#include "gtest/gtest.h"

namespace otaverify {
namespace {

constexpr int kSamples = 2000;

struct Range {
  absl::Duration min = absl::InfiniteDuration();
  absl::Duration max = -absl::InfiniteDuration();
};

Range Sample(int attempt, absl::Duration base, absl::Duration cap, std::mt19937_64& random) {
  Range range;
  for (int i = 0; i < kSamples; ++i) {
    const absl::Duration d = FullJitterBackoff(attempt, base, cap, random);
    range.min = std::min(range.min, d);
    range.max = std::max(range.max, d);
  }
  return range;
}

// Bounds alone would pass for a constant 0; the spread checks it is the full window that is
// used. With 2000 uniform samples, missing either tenth of the window has odds of 0.9^2000.
TEST(Backoff, SpreadsOverTheWholeDoublingWindow) {
  std::mt19937_64 random(42);
  const absl::Duration base = absl::Milliseconds(100);
  for (int attempt = 1; attempt <= 6; ++attempt) {
    SCOPED_TRACE(::testing::Message() << "attempt " << attempt);
    const absl::Duration window = base * (1 << (attempt - 1));
    const Range range = Sample(attempt, base, absl::Seconds(20), random);
    EXPECT_GE(range.min, absl::ZeroDuration());
    EXPECT_LE(range.max, window);
    EXPECT_LT(range.min, window / 10);
    EXPECT_GT(range.max, window * 9 / 10);
  }
}

TEST(Backoff, CapBoundsTheWindow) {
  std::mt19937_64 random(7);
  const Range range = Sample(10, absl::Milliseconds(100), absl::Seconds(3), random);  // 51.2 s
  EXPECT_LE(range.max, absl::Seconds(3));
  EXPECT_GT(range.max, absl::Milliseconds(2700));
}

TEST(Backoff, LargeAttemptsStayWithinTheCap) {
  std::mt19937_64 random(1);
  for (int attempt : {31, 32, 63, 64, 65, 1000, INT_MAX}) {
    SCOPED_TRACE(::testing::Message() << "attempt " << attempt);
    const Range range = Sample(attempt, absl::Seconds(1), absl::Seconds(30), random);
    EXPECT_GE(range.min, absl::ZeroDuration());
    EXPECT_LE(range.max, absl::Seconds(30));
    EXPECT_GT(range.max, absl::Seconds(27));
  }
}

TEST(Backoff, InfiniteCapSaturatesInsteadOfOverflowing) {
  std::mt19937_64 random(3);
  const Range range = Sample(INT_MAX, absl::Hours(1), absl::InfiniteDuration(), random);
  EXPECT_GE(range.min, absl::ZeroDuration());
  EXPECT_LT(range.max, absl::InfiniteDuration());
}

TEST(Backoff, AttemptBelowOneUsesTheFirstWindow) {
  std::mt19937_64 random(5);
  for (int attempt : {0, -1, INT_MIN}) {
    const Range range = Sample(attempt, absl::Milliseconds(100), absl::Seconds(10), random);
    EXPECT_GE(range.min, absl::ZeroDuration());
    EXPECT_LE(range.max, absl::Milliseconds(100));
  }
}

TEST(Backoff, ZeroOrNegativeBaseOrCapMeansNoWait) {
  std::mt19937_64 random(9);
  EXPECT_EQ(FullJitterBackoff(3, absl::ZeroDuration(), absl::Seconds(1), random),
            absl::ZeroDuration());
  EXPECT_EQ(FullJitterBackoff(3, absl::Seconds(1), absl::ZeroDuration(), random),
            absl::ZeroDuration());
  EXPECT_EQ(FullJitterBackoff(3, -absl::Seconds(1), absl::Seconds(1), random),
            absl::ZeroDuration());
}

TEST(Backoff, SameSeedSameWaits) {
  std::mt19937_64 a(11);
  std::mt19937_64 b(11);
  for (int attempt = 1; attempt < 20; ++attempt) {
    EXPECT_EQ(FullJitterBackoff(attempt, absl::Milliseconds(50), absl::Seconds(5), a),
              FullJitterBackoff(attempt, absl::Milliseconds(50), absl::Seconds(5), b));
  }
}

TEST(Backoff, AcceptsAbslBitGen) {
  absl::BitGen random;
  const absl::Duration d = FullJitterBackoff(2, absl::Milliseconds(10), absl::Seconds(1), random);
  EXPECT_GE(d, absl::ZeroDuration());
  EXPECT_LE(d, absl::Milliseconds(20));
}

}  // namespace
}  // namespace otaverify

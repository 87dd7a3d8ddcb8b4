// RateLimiter on explicit times: reservations, pacing over simulated seconds, AIMD.
#include "service/resilience/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::StatusIs;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);
const absl::Time kNoLimit = absl::InfiniteFuture();

RateLimiter::Options TenPerSecond() {
  RateLimiter::Options options;
  options.rate_per_second = 10;
  return options;
}

TEST(RateLimiter, BurstStartsAtOnce) {
  RateLimiter limiter(TenPerSecond(), kStart);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), kStart) << "reservation " << i;
  }
}

TEST(RateLimiter, ReservationsBeyondBurstWaitInLine) {
  RateLimiter limiter(TenPerSecond(), kStart);
  for (int i = 0; i < 10; ++i) limiter.Reserve(kStart, kNoLimit);
  EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), kStart + absl::Milliseconds(100));
  EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), kStart + absl::Milliseconds(200));
  EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), kStart + absl::Milliseconds(300));
}

TEST(RateLimiter, ReservationBeyondLatestStartReservesNothing) {
  RateLimiter limiter(TenPerSecond(), kStart);
  for (int i = 0; i < 10; ++i) limiter.Reserve(kStart, kNoLimit);
  // The next token is due at +100 ms: a caller that must start by +99 ms gets nothing...
  EXPECT_EQ(limiter.Reserve(kStart, kStart + absl::Milliseconds(99)), absl::nullopt);
  EXPECT_EQ(limiter.Reserve(kStart, kStart + absl::Milliseconds(99)), absl::nullopt);
  // ... and took nothing: the next caller still gets the +100 ms slot.
  EXPECT_EQ(limiter.Reserve(kStart, kStart + absl::Milliseconds(100)),
            kStart + absl::Milliseconds(100));
}

TEST(RateLimiter, DefaultBurstIsAtLeastOne) {
  RateLimiter::Options options;
  options.rate_per_second = 0.5;
  RateLimiter limiter(options, kStart);
  EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), kStart);
  EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), kStart + absl::Seconds(2));
}

TEST(RateLimiter, IdleBucketRefillsOnlyUpToBurst) {
  RateLimiter::Options options = TenPerSecond();
  options.burst = 3;
  RateLimiter limiter(options, kStart);
  const absl::Time later = kStart + absl::Hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Reserve(later, kNoLimit), later);
  EXPECT_EQ(limiter.Reserve(later, kNoLimit), later + absl::Milliseconds(100));
}

TEST(RateLimiter, EarlierTimeIsTreatedAsTheLatestSeen) {
  RateLimiter::Options options = TenPerSecond();
  options.burst = 1;
  RateLimiter limiter(options, kStart);
  const absl::Time later = kStart + absl::Seconds(1);
  EXPECT_EQ(limiter.Reserve(later, kNoLimit), later);
  // A caller whose clock read lags must not get a token before it was earned.
  EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), later + absl::Milliseconds(100));
}

// Callers arrive every 5 ms for 10 s (20x the rate), each willing to wait up to 500 ms. Whatever
// the burst, no window of any length W may hold more than rate * W + burst starts, and the
// limiter must still deliver the full rate.
TEST(RateLimiter, NoWindowStartsMoreThanRateTimesLengthPlusBurst) {
  for (double burst : {1.0, 3.0, 10.0}) {
    SCOPED_TRACE(::testing::Message() << "burst " << burst);
    RateLimiter::Options options = TenPerSecond();
    options.burst = burst;
    RateLimiter limiter(options, kStart);
    std::vector<absl::Time> starts;
    int rejected = 0;
    for (absl::Time now = kStart; now < kStart + absl::Seconds(10); now += absl::Milliseconds(5)) {
      const absl::Time latest = now + absl::Milliseconds(500);
      absl::optional<absl::Time> start = limiter.Reserve(now, latest);
      if (!start.has_value()) {
        ++rejected;
        continue;
      }
      ASSERT_GE(*start, now);
      ASSERT_LE(*start, latest);
      starts.push_back(*start);
    }
    std::sort(starts.begin(), starts.end());
    for (absl::Duration window : {absl::Milliseconds(100), absl::Milliseconds(250),
                                  absl::Seconds(1), absl::Milliseconds(2500), absl::Seconds(10)}) {
      const double bound = 10 * absl::ToDoubleSeconds(window) + burst;
      for (size_t i = 0; i < starts.size(); ++i) {
        const auto end = std::lower_bound(starts.begin() + i, starts.end(), starts[i] + window);
        ASSERT_LE(end - (starts.begin() + i), bound)
            << "window of " << window << " from " << (starts[i] - kStart);
      }
    }
    // Delivered: the burst, then one every 100 ms up to the last arrival's 500 ms of patience.
    const auto in_ten_seconds =
        std::lower_bound(starts.begin(), starts.end(), kStart + absl::Seconds(10)) - starts.begin();
    EXPECT_GE(in_ten_seconds, 100);
    EXPECT_GT(rejected, 0);
  }
}

TEST(RateLimiter, ThrottledHalvesTheRateOncePerCooldown) {
  RateLimiter::Options options = TenPerSecond();
  options.recovery_per_second = 0;
  RateLimiter limiter(options, kStart);
  EXPECT_TRUE(limiter.OnThrottled(kStart));
  EXPECT_DOUBLE_EQ(limiter.CurrentRate(kStart), 5);
  // The rest of a burst of Throttling answers to calls sent together.
  EXPECT_FALSE(limiter.OnThrottled(kStart));
  EXPECT_FALSE(limiter.OnThrottled(kStart + absl::Milliseconds(999)));
  EXPECT_DOUBLE_EQ(limiter.CurrentRate(kStart + absl::Milliseconds(999)), 5);
  EXPECT_TRUE(limiter.OnThrottled(kStart + absl::Seconds(1)));
  EXPECT_DOUBLE_EQ(limiter.CurrentRate(kStart + absl::Seconds(1)), 2.5);
}

TEST(RateLimiter, ThrottledRateFloorsAtMinimumFraction) {
  RateLimiter::Options options = TenPerSecond();
  options.recovery_per_second = 0;
  RateLimiter limiter(options, kStart);
  // 10 -> 5 -> 2.5 -> 1.25 -> floor 1 (0.1 of 10), and stays there.
  const double expected[] = {5, 2.5, 1.25, 1, 1, 1};
  for (int i = 0; i < 6; ++i) {
    const absl::Time now = kStart + absl::Seconds(i);
    EXPECT_TRUE(limiter.OnThrottled(now));
    EXPECT_DOUBLE_EQ(limiter.CurrentRate(now), expected[i]) << "after throttle " << i + 1;
  }
}

TEST(RateLimiter, RateRecoversLinearlyToConfiguredRate) {
  RateLimiter limiter(TenPerSecond(), kStart);  // recovery: 5 % of 10/s = 0.5/s per second
  ASSERT_TRUE(limiter.OnThrottled(kStart));
  EXPECT_DOUBLE_EQ(limiter.CurrentRate(kStart), 5);
  EXPECT_NEAR(limiter.CurrentRate(kStart + absl::Seconds(2)), 6, 1e-9);
  EXPECT_NEAR(limiter.CurrentRate(kStart + absl::Seconds(4)), 7, 1e-9);
  EXPECT_NEAR(limiter.CurrentRate(kStart + absl::Seconds(9)), 9.5, 1e-9);
  EXPECT_DOUBLE_EQ(limiter.CurrentRate(kStart + absl::Seconds(10)), 10);
  EXPECT_DOUBLE_EQ(limiter.CurrentRate(kStart + absl::Seconds(60)), 10);
  // Recovery survives the limiter being used meanwhile.
  ASSERT_TRUE(limiter.OnThrottled(kStart + absl::Seconds(60)));
  limiter.Reserve(kStart + absl::Seconds(61), kNoLimit);
  EXPECT_NEAR(limiter.CurrentRate(kStart + absl::Seconds(62)), 6, 1e-9);
}

TEST(RateLimiter, ThrottledRatePacesReservationsAndShrinksTheBurst) {
  RateLimiter::Options options = TenPerSecond();
  options.recovery_per_second = 0;
  RateLimiter limiter(options, kStart);
  ASSERT_TRUE(limiter.OnThrottled(kStart));
  // Capacity follows the rate: 5 of the configured burst of 10.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), kStart);
  EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), kStart + absl::Milliseconds(200));
  EXPECT_EQ(limiter.Reserve(kStart, kNoLimit), kStart + absl::Milliseconds(400));
}

TEST(RateLimiter, WaitDuringRecoveryCountsTheRisingRate) {
  RateLimiter::Options options = TenPerSecond();
  options.burst = 1;
  options.recovery_per_second = 5;
  RateLimiter limiter(options, kStart);
  ASSERT_EQ(limiter.Reserve(kStart, kNoLimit), kStart);
  ASSERT_TRUE(limiter.OnThrottled(kStart));
  // One token at a rate of 5 + 5t per second: 5t + 2.5t^2 = 1, sooner than the 200 ms a
  // constant 5/s would take.
  const double t = (-5 + std::sqrt(25.0 + 10.0)) / 5;
  absl::optional<absl::Time> start = limiter.Reserve(kStart, kNoLimit);
  ASSERT_TRUE(start.has_value());
  EXPECT_NEAR(absl::ToDoubleSeconds(*start - kStart), t, 1e-6);
}

TEST(RateLimiter, ValidateRejectsBadOptions) {
  EXPECT_THAT(RateLimiter::Validate(TenPerSecond()), StatusIs(absl::StatusCode::kOk));
  auto with = [](auto change) {
    RateLimiter::Options options = TenPerSecond();
    change(options);
    return RateLimiter::Validate(options);
  };
  EXPECT_THAT(with([](auto& o) { o.rate_per_second = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(with([](auto& o) { o.rate_per_second = NAN; }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(with([](auto& o) { o.burst = -1; }), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(with([](auto& o) { o.decrease_factor = 1; }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(with([](auto& o) { o.min_rate_fraction = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(with([](auto& o) { o.decrease_cooldown = -absl::Seconds(1); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace otaverify

// CircuitBreaker on explicit times: opening, retry-after, the half-open probe, re-opening.
#include "service/resilience/circuit_breaker.h"

#include "gtest/gtest.h"

namespace otaverify {
namespace {

using State = CircuitBreaker::State;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

void FailTimes(CircuitBreaker& breaker, int n, absl::Time now) {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(breaker.Allow(now));
    breaker.OnFailure(now);
  }
}

TEST(CircuitBreaker, StartsClosedAndAllows) {
  CircuitBreaker breaker;
  EXPECT_EQ(breaker.state(kStart), State::kClosed);
  EXPECT_TRUE(breaker.Allow(kStart));
  EXPECT_EQ(breaker.RetryAfter(kStart), absl::ZeroDuration());
}

TEST(CircuitBreaker, OpensAfterThresholdConsecutiveFailures) {
  CircuitBreaker breaker;
  FailTimes(breaker, 4, kStart);
  EXPECT_EQ(breaker.state(kStart), State::kClosed);
  FailTimes(breaker, 1, kStart);
  EXPECT_EQ(breaker.state(kStart), State::kOpen);
  EXPECT_FALSE(breaker.Allow(kStart));
}

TEST(CircuitBreaker, SuccessInClosedStateResetsTheCount) {
  CircuitBreaker breaker;
  FailTimes(breaker, 4, kStart);
  breaker.OnSuccess();
  FailTimes(breaker, 4, kStart);
  EXPECT_EQ(breaker.state(kStart), State::kClosed);
  FailTimes(breaker, 1, kStart);
  EXPECT_EQ(breaker.state(kStart), State::kOpen);
}

TEST(CircuitBreaker, RetryAfterCountsDownTheOpenPeriod) {
  CircuitBreaker breaker;
  FailTimes(breaker, 5, kStart);
  EXPECT_EQ(breaker.RetryAfter(kStart), absl::Seconds(5));
  EXPECT_EQ(breaker.RetryAfter(kStart + absl::Seconds(2)), absl::Seconds(3));
  EXPECT_FALSE(breaker.Allow(kStart + absl::Milliseconds(4999)));
  EXPECT_EQ(breaker.RetryAfter(kStart + absl::Milliseconds(4999)), absl::Milliseconds(1));
  EXPECT_EQ(breaker.RetryAfter(kStart + absl::Seconds(5)), absl::ZeroDuration());
}

TEST(CircuitBreaker, HalfOpenAdmitsExactlyOneProbeAtATime) {
  CircuitBreaker breaker;
  FailTimes(breaker, 5, kStart);
  const absl::Time half_open = kStart + absl::Seconds(5);
  EXPECT_EQ(breaker.state(half_open), State::kHalfOpen);
  EXPECT_TRUE(breaker.Allow(half_open));
  EXPECT_FALSE(breaker.Allow(half_open));
  EXPECT_FALSE(breaker.Allow(half_open + absl::Seconds(1)));
  EXPECT_EQ(breaker.state(half_open + absl::Seconds(1)), State::kHalfOpen);
  // A failing probe re-opens for at least open_duration: come back then.
  EXPECT_EQ(breaker.RetryAfter(half_open + absl::Seconds(1)), absl::Seconds(5));
}

TEST(CircuitBreaker, ProbeSuccessCloses) {
  CircuitBreaker breaker;
  FailTimes(breaker, 5, kStart);
  const absl::Time half_open = kStart + absl::Seconds(5);
  ASSERT_TRUE(breaker.Allow(half_open));
  breaker.OnSuccess();
  EXPECT_EQ(breaker.state(half_open), State::kClosed);
  EXPECT_TRUE(breaker.Allow(half_open));
  EXPECT_TRUE(breaker.Allow(half_open));
  // A fresh count: it takes the full threshold to open again.
  FailTimes(breaker, 4, half_open);
  EXPECT_EQ(breaker.state(half_open), State::kClosed);
}

TEST(CircuitBreaker, ProbeFailureReopensForTwiceAsLongUpToTheCap) {
  CircuitBreaker breaker;
  FailTimes(breaker, 5, kStart);
  absl::Time now = kStart + absl::Seconds(5);
  for (absl::Duration expected : {absl::Seconds(10), absl::Seconds(20), absl::Seconds(40),
                                  absl::Seconds(60), absl::Seconds(60)}) {
    ASSERT_TRUE(breaker.Allow(now));
    breaker.OnFailure(now);
    EXPECT_EQ(breaker.state(now), State::kOpen);
    EXPECT_EQ(breaker.RetryAfter(now), expected);
    EXPECT_FALSE(breaker.Allow(now + expected - absl::Nanoseconds(1)));
    now += expected;
  }
}

TEST(CircuitBreaker, ClosingResetsTheOpenDuration) {
  CircuitBreaker breaker;
  FailTimes(breaker, 5, kStart);
  absl::Time now = kStart + absl::Seconds(5);
  ASSERT_TRUE(breaker.Allow(now));
  breaker.OnFailure(now);  // open for 10 s
  now += absl::Seconds(10);
  ASSERT_TRUE(breaker.Allow(now));
  breaker.OnSuccess();
  FailTimes(breaker, 5, now);
  EXPECT_EQ(breaker.RetryAfter(now), absl::Seconds(5));
}

TEST(CircuitBreaker, MaxEqualToOpenDurationKeepsItFixed) {
  CircuitBreaker::Options options;
  options.failure_threshold = 1;
  options.open_duration = absl::Seconds(3);
  options.max_open_duration = absl::Seconds(3);
  CircuitBreaker breaker(options);
  FailTimes(breaker, 1, kStart);
  absl::Time now = kStart + absl::Seconds(3);
  ASSERT_TRUE(breaker.Allow(now));
  breaker.OnFailure(now);
  EXPECT_EQ(breaker.RetryAfter(now), absl::Seconds(3));
}

TEST(CircuitBreaker, AbandonedProbeFreesTheSlotWithoutAVerdict) {
  CircuitBreaker breaker;
  FailTimes(breaker, 5, kStart);
  const absl::Time half_open = kStart + absl::Seconds(5);
  ASSERT_TRUE(breaker.Allow(half_open));
  breaker.OnAbandoned();
  EXPECT_EQ(breaker.state(half_open), State::kHalfOpen);
  EXPECT_EQ(breaker.RetryAfter(half_open), absl::ZeroDuration());
  EXPECT_TRUE(breaker.Allow(half_open));
  EXPECT_FALSE(breaker.Allow(half_open));
}

TEST(CircuitBreaker, LostProbeIsReplacedAfterProbeTimeout) {
  CircuitBreaker breaker;
  FailTimes(breaker, 5, kStart);
  const absl::Time half_open = kStart + absl::Seconds(5);
  ASSERT_TRUE(breaker.Allow(half_open));
  EXPECT_FALSE(breaker.Allow(half_open + absl::Seconds(29)));
  EXPECT_EQ(breaker.RetryAfter(half_open + absl::Seconds(29)), absl::Seconds(1));
  EXPECT_TRUE(breaker.Allow(half_open + absl::Seconds(30)));
  EXPECT_FALSE(breaker.Allow(half_open + absl::Seconds(30)));
}

TEST(CircuitBreaker, LateReportsWhileOpenAreIgnored) {
  CircuitBreaker breaker;
  FailTimes(breaker, 5, kStart);
  // Calls admitted before the breaker opened, answering late.
  breaker.OnSuccess();
  breaker.OnFailure(kStart + absl::Seconds(4));
  EXPECT_EQ(breaker.state(kStart + absl::Seconds(4)), State::kOpen);
  EXPECT_EQ(breaker.RetryAfter(kStart + absl::Seconds(4)), absl::Seconds(1));
}

TEST(CircuitBreaker, AbandonedCallsInClosedStateChangeNothing) {
  CircuitBreaker breaker;
  FailTimes(breaker, 4, kStart);
  ASSERT_TRUE(breaker.Allow(kStart));
  breaker.OnAbandoned();
  FailTimes(breaker, 1, kStart);
  EXPECT_EQ(breaker.state(kStart), State::kOpen);
}

}  // namespace
}  // namespace otaverify

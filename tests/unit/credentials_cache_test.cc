// CredentialsCache against a source the test completes by hand, on a clock the test moves.
#include "service/credentials/credentials_cache.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::StatusIs;
using Reason = CredentialsCache::Reason;
using Result = CredentialsCache::Result;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

// A source whose fetches stay pending until the test completes them.
class ManualSource : public CredentialsSource {
 public:
  explicit ManualSource(absl::Duration recheck = absl::InfiniteDuration()) : recheck_(recheck) {}

  void Fetch(absl::Time now, Callback done) override {
    absl::MutexLock lock(&mu_);
    ++fetches_;
    pending_.push_back(std::move(done));
  }
  absl::Duration RecheckInterval() const override { return recheck_; }
  std::string Kind() const override { return "manual"; }

  int fetches() const {
    absl::MutexLock lock(&mu_);
    return fetches_;
  }
  int pending() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(pending_.size());
  }
  // Completes the oldest pending fetch.
  void Complete(absl::StatusOr<Credentials> result) {
    Callback done;
    {
      absl::MutexLock lock(&mu_);
      ASSERT_FALSE(pending_.empty());
      done = std::move(pending_.front());
      pending_.erase(pending_.begin());
    }
    std::move(done)(std::move(result));
  }

 private:
  const absl::Duration recheck_;
  mutable absl::Mutex mu_;
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Callback> pending_ ABSL_GUARDED_BY(mu_);
};

Credentials Sts(const std::string& id, absl::Time expiration) {
  Credentials c;
  c.access_key_id = id;
  c.access_key_secret = "secret-of-" + id;
  c.security_token = "token-of-" + id;
  c.expiration = expiration;
  return c;
}

class CredentialsCacheTest : public ::testing::Test {
 protected:
  explicit CredentialsCacheTest(absl::Duration recheck = absl::InfiniteDuration())
      : source_(new ManualSource(recheck)),
        cache_("test", std::unique_ptr<CredentialsSource>(source_), &clock_) {}

  // Get at the clock's now; the result, or nullopt if the callback has not run yet.
  struct Pending {
    std::shared_ptr<absl::optional<absl::StatusOr<CredentialsSnapshot>>> result =
        std::make_shared<absl::optional<absl::StatusOr<CredentialsSnapshot>>>();
    bool done() const { return result->has_value(); }
    const absl::StatusOr<CredentialsSnapshot>& get() const { return **result; }
  };
  Pending Get() {
    Pending p;
    cache_.Get(clock_.Now(), [r = p.result](absl::StatusOr<CredentialsSnapshot> s) { *r = s; });
    return p;
  }
  // Fills the cache with credentials living `lifetime` from now.
  void Fill(const std::string& id, absl::Duration lifetime) {
    Pending p = Get();
    source_->Complete(Sts(id, clock_.Now() + lifetime));
    ASSERT_TRUE(p.done() && p.get().ok());
  }
  uint64_t Fetches(Reason reason, Result result) {
    return cache_.GetStats().fetches[static_cast<int>(reason)][static_cast<int>(result)];
  }

  ManualClock clock_{kStart};
  ManualSource* source_;  // owned by cache_
  CredentialsCache cache_;
};

TEST_F(CredentialsCacheTest, ThousandConcurrentCallersOnAColdCacheCauseOneFetch) {
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 125; ++i) {
        cache_.Get(clock_.Now(), [&](absl::StatusOr<CredentialsSnapshot> s) {
          ok += s.ok() && (*s)->access_key_id == "STS.1";
          ++answered;
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(source_->fetches(), 1);
  EXPECT_EQ(answered.load(), 0);  // everybody waits for the one fetch
  EXPECT_EQ(cache_.GetStats().waiters, 1000u);
  source_->Complete(Sts("STS.1", kStart + absl::Hours(1)));
  EXPECT_EQ(answered.load(), 1000);
  EXPECT_EQ(ok.load(), 1000);
  EXPECT_EQ(Fetches(Reason::kCold, Result::kNew), 1u);
}

TEST_F(CredentialsCacheTest, ThousandConcurrentCallersOnAnExpiringCacheCauseOneFetch) {
  Fill("STS.1", absl::Seconds(60));
  clock_.Advance(absl::Seconds(55));  // mandatory window: min(2 min, 60 s / 10) = 6 s
  std::vector<Pending> calls;
  for (int i = 0; i < 1000; ++i) calls.push_back(Get());
  EXPECT_EQ(source_->fetches(), 2);
  source_->Complete(Sts("STS.2", clock_.Now() + absl::Seconds(60)));
  for (const Pending& p : calls) {
    ASSERT_TRUE(p.done());
    EXPECT_EQ((*p.get())->access_key_id, "STS.2");
  }
  EXPECT_EQ(Fetches(Reason::kMandatory, Result::kNew), 1u);
}

TEST_F(CredentialsCacheTest, AdvisoryWindowServesTheCurrentSnapshotAndRefreshesInBackground) {
  Fill("STS.1", absl::Minutes(60));
  clock_.Advance(absl::Minutes(30));  // 30 min left: no refresh yet (window is 15 min)
  Pending early = Get();
  ASSERT_TRUE(early.done());
  EXPECT_EQ(source_->fetches(), 1);

  clock_.Advance(absl::Minutes(17));  // 13 min left: inside the advisory window
  Pending advisory = Get();
  ASSERT_TRUE(advisory.done());  // answered inline with the current snapshot
  EXPECT_EQ((*advisory.get())->access_key_id, "STS.1");
  EXPECT_EQ(source_->fetches(), 2);
  Pending meanwhile = Get();  // a fetch is in flight: no second one
  EXPECT_EQ(source_->fetches(), 2);
  source_->Complete(Sts("STS.2", clock_.Now() + absl::Minutes(60)));
  EXPECT_EQ((*Get().get())->access_key_id, "STS.2");
  EXPECT_EQ(Fetches(Reason::kAdvisory, Result::kNew), 1u);
}

TEST_F(CredentialsCacheTest, TickRefreshesAheadOfExpiryWithoutAnyCaller) {
  Fill("STS.1", absl::Minutes(60));
  cache_.Tick(clock_.Now());
  EXPECT_EQ(source_->fetches(), 1);
  clock_.Advance(absl::Minutes(48));  // 12 min left: past even the jittered advisory point
  cache_.Tick(clock_.Now());
  EXPECT_EQ(source_->fetches(), 2);
}

TEST_F(CredentialsCacheTest, FailingRefreshServesLastGoodUntilExpiryMinusGuardThenUnavailable) {
  Fill("STS.1", absl::Seconds(600));  // mandatory window 60 s, guard min(10 s, 30 s) = 10 s
  clock_.Advance(absl::Seconds(560));
  Pending waiting = Get();  // mandatory: waits for the fetch
  EXPECT_FALSE(waiting.done());
  source_->Complete(absl::UnavailableError("metadata service down"));
  ASSERT_TRUE(waiting.done());
  EXPECT_EQ((*waiting.get())->access_key_id, "STS.1");  // last good

  clock_.Advance(absl::Seconds(30));  // 10 s left: nothing servable any more
  while (source_->pending() > 0) source_->Complete(absl::UnavailableError("still down"));
  Pending late = Get();
  while (!late.done() && source_->pending() > 0) {
    source_->Complete(absl::UnavailableError("still down"));
  }
  ASSERT_TRUE(late.done());
  EXPECT_THAT(late.get().status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(late.get().status().message()), ::testing::HasSubstr("down"));
}

TEST_F(CredentialsCacheTest, NeverServesASnapshotPastItsExpiry) {
  Fill("STS.1", absl::Seconds(60));
  clock_.Advance(absl::Seconds(61));
  Pending p = Get();
  source_->Complete(absl::UnavailableError("down"));
  ASSERT_TRUE(p.done());
  EXPECT_FALSE(p.get().ok());
}

TEST_F(CredentialsCacheTest, BackoffAfterFailuresIsCappedAndRecoveryFollows) {
  // Cold and failing: each tick may start a fetch once its backoff has passed.
  for (int i = 0; i < 12; ++i) {
    cache_.Tick(clock_.Now());
    if (source_->pending() > 0) source_->Complete(absl::UnavailableError("down"));
    clock_.Advance(absl::Seconds(61));  // longer than the 60 s cap: the next tick always fetches
  }
  EXPECT_EQ(source_->fetches(), 12);
  EXPECT_EQ(cache_.GetStats().consecutive_failures, 12u);
  // The source is back: the next attempt comes within the cap and succeeds.
  cache_.Tick(clock_.Now());
  ASSERT_EQ(source_->pending(), 1);
  source_->Complete(Sts("STS.back", clock_.Now() + absl::Hours(1)));
  EXPECT_EQ(cache_.GetStats().consecutive_failures, 0u);
  EXPECT_EQ((*Get().get())->access_key_id, "STS.back");
}

TEST_F(CredentialsCacheTest, FailedColdFetchFailsCallersAtOnceDuringBackoff) {
  Pending first = Get();
  source_->Complete(absl::UnavailableError("down"));
  EXPECT_THAT(first.get().status(), StatusIs(absl::StatusCode::kUnavailable));
  // The clock stands still, inside the backoff: callers get the error at once, and the source
  // is not asked again per call.
  for (int i = 0; i < 100; ++i) {
    Pending p = Get();
    ASSERT_TRUE(p.done());
    EXPECT_THAT(p.get().status(), StatusIs(absl::StatusCode::kUnavailable));
  }
  EXPECT_EQ(source_->fetches(), 1);
}

TEST_F(CredentialsCacheTest, SameCredentialsAreAskedForAgainOnlyAfter30To60Seconds) {
  Fill("STS.1", absl::Minutes(60));
  clock_.Advance(absl::Minutes(50));
  cache_.Tick(clock_.Now());
  ASSERT_EQ(source_->fetches(), 2);
  source_->Complete(Sts("STS.1", kStart + absl::Minutes(60)));  // not rotated yet
  EXPECT_EQ(Fetches(Reason::kAdvisory, Result::kSame), 1u);
  clock_.Advance(absl::Seconds(29));
  cache_.Tick(clock_.Now());
  Get();
  EXPECT_EQ(source_->fetches(), 2);
  clock_.Advance(absl::Seconds(32));
  cache_.Tick(clock_.Now());
  EXPECT_EQ(source_->fetches(), 3);
}

TEST_F(CredentialsCacheTest, InvalidateDropsOnlyTheCurrentSnapshot) {
  Fill("STS.1", absl::Hours(1));
  cache_.Invalidate(Sts("STS.old", kStart));  // not the current one: ignored
  EXPECT_TRUE(Get().done());
  EXPECT_EQ(source_->fetches(), 1);

  cache_.Invalidate(Sts("STS.1", kStart));
  Pending p = Get();
  EXPECT_FALSE(p.done());
  EXPECT_EQ(source_->fetches(), 2);
  source_->Complete(Sts("STS.2", clock_.Now() + absl::Hours(1)));
  EXPECT_EQ((*p.get())->access_key_id, "STS.2");
  EXPECT_EQ(Fetches(Reason::kInvalidated, Result::kNew), 1u);
}

TEST_F(CredentialsCacheTest, AnswerThatIsAlreadyExpiredIsAFailure) {
  Pending p = Get();
  source_->Complete(Sts("STS.stale", kStart - absl::Seconds(1)));
  EXPECT_THAT(p.get().status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(Fetches(Reason::kCold, Result::kFailed), 1u);
}

class RecheckingCacheTest : public CredentialsCacheTest {
 protected:
  RecheckingCacheTest() : CredentialsCacheTest(absl::Seconds(30)) {}
};

TEST_F(RecheckingCacheTest, CredentialsThatNeverExpireAreFetchedAgainEveryRecheckInterval) {
  Pending p = Get();
  Credentials key = Sts("LTAI.key", absl::InfiniteFuture());
  key.security_token.clear();
  source_->Complete(key);
  clock_.Advance(absl::Seconds(29));
  cache_.Tick(clock_.Now());
  EXPECT_EQ(source_->fetches(), 1);
  clock_.Advance(absl::Seconds(2));
  cache_.Tick(clock_.Now());
  EXPECT_EQ(source_->fetches(), 2);
}

}  // namespace
}  // namespace otaverify

// RetryBudget: the AWS "standard" quota arithmetic, and no overspending under contention.
#include "service/resilience/retry_budget.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace otaverify {
namespace {

TEST(RetryBudget, HundredRetriesExhaustTheDefaultBudget) {
  RetryBudget budget;
  EXPECT_EQ(budget.available(), 500);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(budget.TryAcquire(false)) << "retry " << i + 1;
  EXPECT_EQ(budget.available(), 0);
  EXPECT_FALSE(budget.TryAcquire(false));
}

TEST(RetryBudget, RetriesAfterTimeoutsCostTwice) {
  RetryBudget budget;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(budget.TryAcquire(true)) << "retry " << i + 1;
  EXPECT_EQ(budget.available(), 0);
  EXPECT_FALSE(budget.TryAcquire(true));
}

TEST(RetryBudget, MixedCostsAddUp) {
  RetryBudget budget;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(budget.TryAcquire(true));   // 300
  for (int i = 0; i < 39; ++i) ASSERT_TRUE(budget.TryAcquire(false));  // 195
  EXPECT_EQ(budget.available(), 5);
  EXPECT_FALSE(budget.TryAcquire(true));
  EXPECT_TRUE(budget.TryAcquire(false));
  EXPECT_EQ(budget.available(), 0);
}

TEST(RetryBudget, RefusedRetrySpendsNothing) {
  RetryBudget budget;
  for (int i = 0; i < 99; ++i) ASSERT_TRUE(budget.TryAcquire(false));
  ASSERT_EQ(budget.available(), 5);
  EXPECT_FALSE(budget.TryAcquire(true));
  EXPECT_EQ(budget.available(), 5);
}

TEST(RetryBudget, SuccessRefundsOneUpToCapacity) {
  RetryBudget budget;
  budget.OnSuccess();
  EXPECT_EQ(budget.available(), 500);
  ASSERT_TRUE(budget.TryAcquire(false));
  for (int i = 0; i < 4; ++i) budget.OnSuccess();
  EXPECT_EQ(budget.available(), 499);
  budget.OnSuccess();
  budget.OnSuccess();
  EXPECT_EQ(budget.available(), 500);
}

TEST(RetryBudget, FiveSuccessesEarnOneRetryOnceExhausted) {
  RetryBudget budget;
  while (budget.TryAcquire(false)) {
  }
  for (int i = 0; i < 4; ++i) budget.OnSuccess();
  EXPECT_FALSE(budget.TryAcquire(false));
  budget.OnSuccess();
  EXPECT_TRUE(budget.TryAcquire(false));
  EXPECT_FALSE(budget.TryAcquire(false));
}

TEST(RetryBudget, OptionsChangeTheArithmetic) {
  RetryBudget::Options options;
  options.capacity = 20;
  options.retry_cost = 2;
  options.timeout_retry_cost = 7;
  options.success_refund = 3;
  RetryBudget budget(options);
  EXPECT_TRUE(budget.TryAcquire(true));   // 13
  EXPECT_TRUE(budget.TryAcquire(true));   // 6
  EXPECT_FALSE(budget.TryAcquire(true));  // 6 < 7
  budget.OnSuccess();                     // 9
  EXPECT_TRUE(budget.TryAcquire(true));   // 2
  EXPECT_TRUE(budget.TryAcquire(false));  // 0
  EXPECT_EQ(budget.available(), 0);
}

TEST(RetryBudget, ConcurrentRetriesNeverOverspend) {
  RetryBudget budget;
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (budget.TryAcquire(false)) granted.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), 100);
  EXPECT_EQ(budget.available(), 0);
}

}  // namespace
}  // namespace otaverify

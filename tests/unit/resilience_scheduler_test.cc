// Scheduler on the real clock: order, lower bounds on waiting, many producers, shutdown.
// Only lower bounds on time are asserted; a scheduler that never runs a callback makes a test
// hang until ctest's timeout rather than fail on a guessed upper bound.
#include "service/resilience/scheduler.h"

#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace otaverify {
namespace {

using ::testing::ElementsAre;

// Records callbacks' labels in the order they ran.
class Log {
 public:
  void Add(int label) {
    absl::MutexLock lock(&mu_);
    labels_.push_back(label);
  }
  std::vector<int> labels() const {
    absl::MutexLock lock(&mu_);
    return labels_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<int> labels_ ABSL_GUARDED_BY(mu_);
};

TEST(Scheduler, RunsCallbacksInTimeOrderTiesFirstScheduledFirst) {
  Log log;
  absl::Notification gate;
  absl::Notification done;
  Scheduler scheduler;  // last: destroyed (drained) before what its callbacks use
  // Hold the thread so every callback below is queued before any can run, however slowly this
  // test thread is scheduled.
  scheduler.RunAt(absl::InfinitePast(), [&] { gate.WaitForNotification(); });
  const absl::Time base = absl::Now();
  scheduler.RunAt(base + absl::Milliseconds(30), [&] {
    log.Add(4);
    done.Notify();
  });
  scheduler.RunAt(base + absl::Milliseconds(10), [&] { log.Add(1); });
  scheduler.RunAt(base + absl::Milliseconds(20), [&] { log.Add(2); });
  scheduler.RunAt(base + absl::Milliseconds(20), [&] { log.Add(3); });
  gate.Notify();
  done.WaitForNotification();
  EXPECT_THAT(log.labels(), ElementsAre(1, 2, 3, 4));
}

TEST(Scheduler, RunAfterWaitsAtLeastTheDelay) {
  absl::Notification done;
  absl::Time ran;
  Scheduler scheduler;
  const absl::Time start = absl::Now();
  scheduler.RunAfter(absl::Milliseconds(50), [&] {
    ran = absl::Now();
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_GE(ran - start, absl::Milliseconds(50));
}

TEST(Scheduler, PastTimeRunsOnTheSchedulerThread) {
  absl::Notification done;
  std::thread::id ran_on;
  Scheduler scheduler;
  scheduler.RunAt(absl::InfinitePast(), [&] {
    ran_on = std::this_thread::get_id();
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

// The thread is asleep until a deadline an hour away; a nearer one must wake it.
TEST(Scheduler, EarlierDeadlineWakesTheSleepingThread) {
  Log log;
  absl::Notification done;
  Scheduler scheduler;
  scheduler.RunAfter(absl::Hours(1), [&] { log.Add(2); });
  scheduler.RunAfter(absl::Milliseconds(10), [&] {
    log.Add(1);
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_THAT(log.labels(), ElementsAre(1));
}

// Would deadlock if callbacks ran under the scheduler's lock.
TEST(Scheduler, CallbackMayScheduleAnother) {
  Scheduler scheduler;
  absl::Notification done;
  scheduler.RunAfter(absl::ZeroDuration(),
                     [&] { scheduler.RunAfter(absl::Milliseconds(1), [&] { done.Notify(); }); });
  done.WaitForNotification();
}

TEST(Scheduler, CallbacksFromManyThreadsAllRunEachThreadInOrder) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  absl::BlockingCounter remaining(kThreads * kPerThread);
  absl::Mutex mu;
  std::vector<std::vector<int>> ran(kThreads);
  Scheduler scheduler;
  const absl::Time base = absl::Now();
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Strictly increasing times per producer, interleaved across producers.
        scheduler.RunAt(base + absl::Microseconds(50 * i + t), [&, t, i] {
          {
            absl::MutexLock lock(&mu);
            ran[t].push_back(i);
          }
          remaining.DecrementCount();
        });
      }
    });
  }
  for (auto& producer : producers) producer.join();
  remaining.Wait();
  absl::MutexLock lock(&mu);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(ran[t].size(), static_cast<size_t>(kPerThread)) << "producer " << t;
    for (int i = 0; i < kPerThread; ++i) EXPECT_EQ(ran[t][i], i) << "producer " << t;
  }
}

TEST(Scheduler, DestructorRunsPendingCallbacksAtOnceInTimeOrder) {
  Log log;
  std::thread::id ran_on;
  {
    Scheduler scheduler;
    scheduler.RunAfter(absl::Hours(3), [&] { log.Add(3); });
    scheduler.RunAfter(absl::Hours(1), [&] { log.Add(1); });
    scheduler.RunAfter(absl::Hours(2), [&] {
      log.Add(2);
      ran_on = std::this_thread::get_id();
    });
  }
  EXPECT_THAT(log.labels(), ElementsAre(1, 2, 3));
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(Scheduler, CallbackScheduledDuringShutdownStillRuns) {
  Log log;
  {
    Scheduler scheduler;
    scheduler.RunAfter(absl::Hours(1), [&] {
      log.Add(1);
      scheduler.RunAfter(absl::Hours(1), [&] { log.Add(2); });
    });
  }
  EXPECT_THAT(log.labels(), ElementsAre(1, 2));
}

// Captured state is released after the callback runs, outside the lock, so its destructor may
// use the scheduler too.
TEST(Scheduler, CallbackIsDestroyedOutsideTheLock) {
  struct OnDestroy {
    explicit OnDestroy(absl::AnyInvocable<void()> fn) : fn(std::move(fn)) {}
    ~OnDestroy() { fn(); }
    absl::AnyInvocable<void()> fn;
  };
  absl::Notification done;
  Scheduler scheduler;
  auto guard = std::make_shared<OnDestroy>(
      [&] { scheduler.RunAfter(absl::ZeroDuration(), [&] { done.Notify(); }); });
  scheduler.RunAfter(absl::ZeroDuration(), [guard = std::move(guard)] {});
  done.WaitForNotification();
}

TEST(Scheduler, ShutdownRunsPendingCallbacksAndIsIdempotent) {
  Log log;
  Scheduler scheduler;
  scheduler.RunAfter(absl::Hours(2), [&] { log.Add(2); });
  scheduler.RunAfter(absl::Hours(1), [&] { log.Add(1); });
  scheduler.Shutdown();
  EXPECT_THAT(log.labels(), ElementsAre(1, 2));
  scheduler.Shutdown();
  EXPECT_THAT(log.labels(), ElementsAre(1, 2));
}

// Nothing is lost once the thread has gone: a late timer fires at once, on the caller's thread.
TEST(Scheduler, RunAtAfterShutdownRunsOnTheCallingThread) {
  Log log;
  std::thread::id ran_on;
  Scheduler scheduler;
  scheduler.Shutdown();
  scheduler.RunAfter(absl::Hours(1), [&] {
    log.Add(1);
    ran_on = std::this_thread::get_id();
  });
  EXPECT_THAT(log.labels(), ElementsAre(1));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace otaverify

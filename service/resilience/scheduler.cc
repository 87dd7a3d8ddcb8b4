#include "service/resilience/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

namespace otaverify {

bool Scheduler::Later(const Entry& a, const Entry& b) {
  if (a.when != b.when) return a.when > b.when;
  return a.sequence > b.sequence;
}

Scheduler::Scheduler() : thread_([this] { Loop(); }) {}

Scheduler::~Scheduler() { Shutdown(); }

void Scheduler::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.Signal();
  }
  std::call_once(join_once_, [this] { thread_.join(); });
}

void Scheduler::RunAt(absl::Time when, absl::AnyInvocable<void()> fn) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_) {
      const uint64_t sequence = next_sequence_++;
      heap_.push_back(Entry{when, sequence, std::move(fn)});
      std::push_heap(heap_.begin(), heap_.end(), Later);
      // Only a new earliest deadline changes how long the thread should sleep.
      if (heap_.front().sequence == sequence) wake_.Signal();
      return;
    }
  }
  // No thread left to run it: now, here, rather than never.
  fn();
}

void Scheduler::RunAfter(absl::Duration delay, absl::AnyInvocable<void()> fn) {
  RunAt(absl::Now() + delay, std::move(fn));
}

void Scheduler::Loop() {
  mu_.Lock();
  while (true) {
    if (heap_.empty()) {
      if (stopping_) {
        stopped_ = true;
        break;
      }
      wake_.Wait(&mu_);
      continue;
    }
    const absl::Time when = heap_.front().when;
    if (!stopping_ && when > absl::Now()) {
      wake_.WaitWithDeadline(&mu_, when);
      continue;
    }
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    absl::AnyInvocable<void()> fn = std::move(heap_.back().fn);
    heap_.pop_back();
    mu_.Unlock();
    fn();
    // Destroyed outside the lock too: what it captured may call RunAt on the way out.
    fn = nullptr;
    mu_.Lock();
  }
  mu_.Unlock();
}

}  // namespace otaverify

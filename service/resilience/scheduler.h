// Scheduler: one thread that runs callbacks at given times — retry backoffs, waits for a
// RateLimiter reservation — so no gRPC reaction thread or transport thread ever sleeps.
//
// Callbacks run on the scheduler's thread, one at a time, in order of their time (ties in the
// order they were scheduled), never under the scheduler's lock: a callback may call RunAt. They
// should be short and must not block; anything slow belongs on another thread. The thread sleeps
// until the earliest deadline or until an earlier one is scheduled, so it wakes only when there
// is work.
//
// Time is the wall clock (absl::Now): this is the one unit that is not pure, because something
// has to wait for real. A step of the system clock makes callbacks run early or late.
//
// Shutdown (or destruction) runs every callback still pending at once, in time order, instead
// of discarding it: a caller waiting on a timer (a reactor waiting to Finish) must never wait
// forever. Callers must therefore expect to be called early — re-check their own state
// (deadline, cancellation, shutdown) instead of assuming the time has come. Callbacks scheduled
// during the drain (by another callback) also run at once, so a callback that always reschedules
// itself would keep Shutdown from returning: owners of periodic work stop it first. After
// Shutdown, RunAt runs its callback at once on the calling thread, for the same reason.
//
// Everything a pending callback uses must still be alive when it runs early: call Shutdown()
// before destroying the objects callbacks point at (e.g. after the gRPC server has stopped and
// before the upstream caller and transport go), rather than relying on the destructor, which
// runs only after everything declared later is gone.
//
// Thread-safe: RunAt and RunAfter may be called from any thread, including from callbacks.
// REQUIRES: Shutdown and the destructor are not called from one of its own callbacks (they
// would wait for themselves); RunAt is not called while holding a lock its callback takes, since
// after Shutdown it runs the callback inline.
#ifndef OTAVERIFY_SERVICE_RESILIENCE_SCHEDULER_H_
#define OTAVERIFY_SERVICE_RESILIENCE_SCHEDULER_H_

#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otaverify {

class Scheduler {
 public:
  // Starts the thread.
  Scheduler();
  // Shutdown(), if not done already.
  ~Scheduler();

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs `fn` at `when` or soon after; at once if `when` has passed.
  void RunAt(absl::Time when, absl::AnyInvocable<void()> fn);
  void RunAfter(absl::Duration delay, absl::AnyInvocable<void()> fn);

  // Runs what is pending at once (see above), then stops the thread. Idempotent; a concurrent
  // second call waits for the first.
  void Shutdown();

 private:
  struct Entry {
    absl::Time when;
    uint64_t sequence;  // FIFO among equal times
    absl::AnyInvocable<void()> fn;
  };
  // Heap order: the earliest entry on top.
  static bool Later(const Entry& a, const Entry& b);

  void Loop();

  absl::Mutex mu_;
  absl::CondVar wake_;
  std::vector<Entry> heap_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The thread has drained the queue and exited: RunAt runs callbacks inline.
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::once_flag join_once_;
  // Last: started once everything above is initialised.
  std::thread thread_;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_RESILIENCE_SCHEDULER_H_

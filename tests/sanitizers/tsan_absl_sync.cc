// TSan wrappers for Abseil's synchronization primitives, linked into every executable of a
// `make tsan` build (OTAVERIFY_SANITIZE=thread) and nowhere else.
//
// Debian's libabsl_synchronization is not built with TSan: absl::Mutex orders memory with
// atomics and futexes that TSan never sees, so every ABSL_GUARDED_BY member our instrumented
// code touches would be reported as a race. These definitions of absl::Mutex, CondVar,
// Notification and BlockingCounter entry points (and of absl::Status's reference drop, whose
// count libabsl_status keeps the same way) take precedence over the shared library's
// (an executable's symbols come first in ELF lookup, for calls from the libraries too), tell
// TSan about the happens-before edge each one implies (__tsan_release before giving a
// primitive up, __tsan_acquire after obtaining it), and forward to the real function found
// with dlsym(RTLD_NEXT). Conditions are wrapped too (HeldCondition, below): absl evaluates them
// under the mutex inside its own code.
//
// The edges only ever add ordering, so the wrappers can hide a race through a primitive they
// model too coarsely (a reader lock orders readers among themselves), never invent one.
// Thread-safe: the forwarding pointers are resolved once, under C++ static initialisation.
#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/options.h"
#include "absl/status/status.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

#define OTAVERIFY_STRINGIZE_INNER(x) #x
#define OTAVERIFY_STRINGIZE(x) OTAVERIFY_STRINGIZE_INNER(x)

// The mangled name of absl::<rest>: "_ZN4absl" + the inline namespace + `rest` (which refers
// to absl::<inline namespace> as S0_, as the Itanium ABI's substitutions do).
std::string AbslSymbol(const char* rest, bool const_member = false) {
  std::string name = const_member ? "_ZNK4absl" : "_ZN4absl";
#if ABSL_OPTION_USE_INLINE_NAMESPACE
  const char* ns = OTAVERIFY_STRINGIZE(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  name += std::to_string(std::strlen(ns)) + ns;
#endif
  return name + rest;
}

template <typename Fn>
Fn Real(const std::string& symbol) {
  void* fn = dlsym(RTLD_NEXT, symbol.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found\n", symbol.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// Notification's layout, to find the flag its inline HasBeenNotified() loads with acquire.
struct NotificationLayout {
  absl::Mutex mutex;
  std::atomic<bool> notified_yet;
};
static_assert(sizeof(NotificationLayout) == sizeof(absl::Notification),
              "absl::Notification's layout changed");

void* NotifiedFlag(const absl::Notification* n) {
  return const_cast<std::atomic<bool>*>(
      &reinterpret_cast<const NotificationLayout*>(n)->notified_yet);
}

// A Condition is evaluated with the mutex held, by the waiter or by whichever thread is
// unlocking, inside the real Await / LockWhen / Unlock, where the wrappers cannot mark the
// holding. Each waiting call therefore passes the real function a wrapper of its condition,
// which marks the evaluation as a holder of the mutex would. The wrapper is built with
// Condition's out-of-line (void*) constructor, so the Condition itself is only read and written
// inside the library; the HeldCondition it points to is published with a release on its
// address, which Eval acquires before reading it.
struct HeldCondition {
  const absl::Condition* condition;
  absl::Mutex* mu;

  static bool Eval(void* arg) {
    __tsan_acquire(arg);
    auto* held = static_cast<HeldCondition*>(arg);
    __tsan_acquire(held->mu);
    const bool met = held->condition->Eval();
    __tsan_release(held->mu);
    return met;
  }

  absl::Condition Wrap() {
    __tsan_release(this);
    return absl::Condition(&HeldCondition::Eval, static_cast<void*>(this));
  }
};

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>(AbslSymbol("5Mutex4LockEv"));
  real(this);
  __tsan_acquire(this);
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>(AbslSymbol("5Mutex6UnlockEv"));
  __tsan_release(this);
  real(this);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>(AbslSymbol("5Mutex7TryLockEv"));
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>(AbslSymbol("5Mutex10ReaderLockEv"));
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>(AbslSymbol("5Mutex12ReaderUnlockEv"));
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>(AbslSymbol("5Mutex8LockWhenERKNS0_9ConditionE"));
  HeldCondition held{&cond, this};
  real(this, held.Wrap());
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      AbslSymbol("5Mutex14ReaderLockWhenERKNS0_9ConditionE"));
  HeldCondition held{&cond, this};
  real(this, held.Wrap());
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      AbslSymbol("5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  HeldCondition held{&cond, this};
  const bool met = real(this, held.Wrap(), timeout);
  __tsan_acquire(this);  // held either way
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      AbslSymbol("5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  HeldCondition held{&cond, this};
  const bool met = real(this, held.Wrap(), deadline);
  __tsan_acquire(this);
  return met;
}

// Await* give the mutex up while waiting and hold it again on return.
void Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>(AbslSymbol("5Mutex5AwaitERKNS0_9ConditionE"));
  __tsan_release(this);
  HeldCondition held{&cond, this};
  real(this, held.Wrap());
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      AbslSymbol("5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  __tsan_release(this);
  HeldCondition held{&cond, this};
  const bool met = real(this, held.Wrap(), timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      AbslSymbol("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  __tsan_release(this);
  HeldCondition held{&cond, this};
  const bool met = real(this, held.Wrap(), deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real =
      Real<void (*)(CondVar*, Mutex*)>(AbslSymbol("7CondVar4WaitEPNS0_5MutexE"));
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, Duration)>(
      AbslSymbol("7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, Time)>(
      AbslSymbol("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE"));
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

void Notification::Notify() {
  static const auto real =
      Real<void (*)(Notification*)>(AbslSymbol("12Notification6NotifyEv"));
  __tsan_release(this);
  __tsan_release(NotifiedFlag(this));  // what the inline HasBeenNotified() acquires
  real(this);
}

void Notification::WaitForNotification() const {
  static const auto real = Real<void (*)(const Notification*)>(
      AbslSymbol("12Notification19WaitForNotificationEv", /*const_member=*/true));
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, Duration)>(AbslSymbol(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", /*const_member=*/true));
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  static const auto real = Real<bool (*)(const Notification*, Time)>(AbslSymbol(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", /*const_member=*/true));
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool BlockingCounter::DecrementCount() {
  static const auto real =
      Real<bool (*)(BlockingCounter*)>(AbslSymbol("15BlockingCounter14DecrementCountEv"));
  __tsan_release(this);
  return real(this);
}

void BlockingCounter::Wait() {
  static const auto real =
      Real<void (*)(BlockingCounter*)>(AbslSymbol("15BlockingCounter4WaitEv"));
  real(this);
  __tsan_acquire(this);
}

// A non-OK Status keeps code, message and payloads in one heap rep shared by its copies; each
// copy's destructor drops a reference here, and the copy that drops the last one frees the rep.
// The count is decremented inside libabsl_status, invisible to TSan, and the final `delete` is
// a tail call, so the free is attributed to our caller and escapes called_from_lib: a thread
// that read a copy's message and dropped its reference looked unordered with the thread that
// freed the rep later (the gateway's start-up error, read on the main thread while the
// credentials callback holding another copy is destroyed on the transport thread). Every drop
// releases on the rep and acquires what earlier drops released, so the freeing thread comes
// after every other holder's last use. Coarser than the real count (a drop that does not free
// also acquires), so it can only hide a race between two holders of the same status.
void Status::UnrefNonInlined(uintptr_t rep) {
  static const auto real = Real<void (*)(uintptr_t)>(AbslSymbol("6Status15UnrefNonInlinedEm"));
  if ((rep & 1) != 0) {  // a heap rep (Status::IsInlined is private)
    void* const shared = reinterpret_cast<void*>(rep - 1);
    __tsan_release(shared);
    __tsan_acquire(shared);
  }
  real(rep);
}

ABSL_NAMESPACE_END
}  // namespace absl

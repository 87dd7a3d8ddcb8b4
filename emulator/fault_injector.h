// FaultInjector: faults armed out of band (POST /_emulator/faults) for the next matching RPC
// requests (and, for the imds_* kinds, IMDS requests), so the gateway's transport can be tested
// against a hostile network without the gateway forwarding anything special. What each fault does
// on the wire is EmulatorServer's business (README.md, "Fault injection"); this unit only parses,
// stores and hands them out.
//
// Thread-safe: Take() is atomic, so with count N exactly N requests get the fault however many
// arrive concurrently.
#ifndef OTAVERIFY_EMULATOR_FAULT_INJECTOR_H_
#define OTAVERIFY_EMULATOR_FAULT_INJECTOR_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otaverify {
namespace emulator {

enum class FaultKind {
  kDelay,
  kHttp500,
  kHttp502,
  kHttp503,
  kResetBeforeResponse,
  kCloseAfterResponse,
  kTruncatedBody,
  kNonJsonBody,
  kXmlErrorBody,
  kSlowDripBody,
  kThrottling,
  kProcessThenReset,
  // IMDS only (README.md, "IMDS faults"); never taken by RPC requests, and the RPC kinds are
  // never taken by IMDS requests.
  kImdsTimeout,
  kImdsHttp500,
  kImdsCodeNotSuccess,
  kImdsExpired,
  kImdsRepeat,
  kImdsFractionalExpiry,
};

// True for the imds_* kinds.
bool IsImdsFault(FaultKind kind);

// The wire name, e.g. "reset_before_response".
absl::string_view FaultName(FaultKind kind);

struct Fault {
  static constexpr int64_t kUntilCleared = -1;

  FaultKind kind = FaultKind::kDelay;
  int64_t count = 1;                            // uses left, or kUntilCleared
  absl::Duration delay = absl::ZeroDuration();  // delay and slow_drip_body only
  // RPC faults: the action (empty: any). IMDS faults: the path kind "token", "role" or
  // "credentials" (empty: any; the kinds that shape a credentials answer match only
  // credentials requests).
  std::string action;

  // {"fault","count","delay_ms","action"} — the POST body's shape, with the defaults filled.
  std::string ToJson() const;
};

// Parses and validates a POST /_emulator/faults body. INVALID_ARGUMENT (with a message naming
// the problem) for malformed JSON, unknown fields or names, count 0 or < -1, delay_ms outside
// [0, 600000] or given for a fault that does not use it, an IMDS fault's action not a path kind
// it applies to.
absl::StatusOr<Fault> ParseFault(absl::string_view json);

class FaultInjector {
 public:
  // Armed entries kept at once; more is a test bug.
  static constexpr size_t kMaxArmed = 64;

  // Faults are matched in arming order. RESOURCE_EXHAUSTED past kMaxArmed.
  absl::Status Arm(Fault fault);
  // Disarms everything; returns how many entries were armed.
  size_t Clear();
  // The first armed fault whose action filter matches `action`, using up one of its counts
  // (an entry whose count reaches 0 is removed). nullopt: serve normally.
  std::optional<Fault> Take(absl::string_view action);
  // The same for an IMDS request of path kind `kind` ("token", "role", "credentials", ...):
  // only imds_* faults match.
  std::optional<Fault> TakeImds(absl::string_view kind);
  // Cheap check for the request path: false means Take() would return nullopt.
  bool AnyArmed() const { return any_armed_.load(std::memory_order_acquire); }
  // What is armed, with the uses left.
  std::vector<Fault> Armed() const;
  // {"faults":[<Fault::ToJson()>...]}
  std::string ToJson() const;

 private:
  std::optional<Fault> TakeMatching(bool imds, absl::string_view action);

  mutable absl::Mutex mu_;
  std::vector<Fault> armed_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> any_armed_{false};  // !armed_.empty(), written under mu_
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_FAULT_INJECTOR_H_

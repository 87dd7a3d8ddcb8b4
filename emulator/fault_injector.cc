#include "emulator/fault_injector.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "emulator/fault.pb.h"
#include "emulator/response.h"
#include "google/protobuf/util/json_util.h"

namespace otaverify {
namespace emulator {
namespace {

struct NamedFault {
  FaultKind kind;
  const char* name;
};

constexpr NamedFault kFaults[] = {
    {FaultKind::kDelay, "delay"},
    {FaultKind::kHttp500, "http_500"},
    {FaultKind::kHttp502, "http_502"},
    {FaultKind::kHttp503, "http_503"},
    {FaultKind::kResetBeforeResponse, "reset_before_response"},
    {FaultKind::kCloseAfterResponse, "close_after_response"},
    {FaultKind::kTruncatedBody, "truncated_body"},
    {FaultKind::kNonJsonBody, "non_json_body"},
    {FaultKind::kXmlErrorBody, "xml_error_body"},
    {FaultKind::kSlowDripBody, "slow_drip_body"},
    {FaultKind::kThrottling, "throttling"},
    {FaultKind::kProcessThenReset, "process_then_reset"},
    {FaultKind::kImdsTimeout, "imds_timeout"},
    {FaultKind::kImdsHttp500, "imds_http_500"},
    {FaultKind::kImdsCodeNotSuccess, "imds_code_not_success"},
    {FaultKind::kImdsExpired, "imds_expired"},
    {FaultKind::kImdsRepeat, "imds_repeat"},
    {FaultKind::kImdsFractionalExpiry, "imds_fractional_expiry"},
};

constexpr int64_t kDefaultDelayMs = 1000;
constexpr int64_t kMaxDelayMs = 600000;

bool UsesDelay(FaultKind kind) {
  return kind == FaultKind::kDelay || kind == FaultKind::kSlowDripBody ||
         kind == FaultKind::kImdsTimeout;
}

// IMDS kinds that bend the credentials answer, so apply to credentials requests only.
bool CredentialsOnly(FaultKind kind) {
  return kind == FaultKind::kImdsCodeNotSuccess || kind == FaultKind::kImdsExpired ||
         kind == FaultKind::kImdsRepeat || kind == FaultKind::kImdsFractionalExpiry;
}

}  // namespace

bool IsImdsFault(FaultKind kind) {
  return kind == FaultKind::kImdsTimeout || kind == FaultKind::kImdsHttp500 ||
         CredentialsOnly(kind);
}

absl::string_view FaultName(FaultKind kind) {
  for (const NamedFault& fault : kFaults) {
    if (fault.kind == kind) return fault.name;
  }
  return "unknown";
}

std::string Fault::ToJson() const {
  Doc doc;
  doc.Str("fault", FaultName(kind)).Int("count", count);
  if (UsesDelay(kind)) doc.Int("delay_ms", absl::ToInt64Milliseconds(delay));
  doc.Str("action", action);
  return doc.ToJson();
}

absl::StatusOr<Fault> ParseFault(absl::string_view json) {
  FaultRequest request;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a typo in a test must not arm something else
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &request, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("fault: ", status.ToString()));
  }
  Fault fault;
  bool known = false;
  for (const NamedFault& named : kFaults) {
    if (request.fault() == named.name) {
      fault.kind = named.kind;
      known = true;
    }
  }
  if (!known) {
    return absl::InvalidArgumentError(
        absl::StrCat("fault: unknown fault \"", request.fault(), "\""));
  }
  if (request.has_count()) {
    if (request.count() == 0 || request.count() < Fault::kUntilCleared) {
      return absl::InvalidArgumentError("fault: count must be positive or -1 (until cleared)");
    }
    fault.count = request.count();
  }
  if (request.has_delay_ms()) {
    if (!UsesDelay(fault.kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault: delay_ms does not apply to ", request.fault()));
    }
    if (request.delay_ms() < 0 || request.delay_ms() > kMaxDelayMs) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault: delay_ms must be in [0, ", kMaxDelayMs, "]"));
    }
  }
  if (UsesDelay(fault.kind)) {
    fault.delay = absl::Milliseconds(request.has_delay_ms() ? request.delay_ms() : kDefaultDelayMs);
  }
  fault.action = request.action();
  if (IsImdsFault(fault.kind) && !fault.action.empty()) {
    const bool credentials = fault.action == "credentials";
    const bool other_kind = fault.action == "token" || fault.action == "role";
    if (!credentials && (!other_kind || CredentialsOnly(fault.kind))) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault: the action of ", request.fault(), " must be ",
                       CredentialsOnly(fault.kind) ? "\"credentials\""
                                                   : "\"token\", \"role\" or \"credentials\"",
                       " (or empty)"));
    }
  }
  return fault;
}

absl::Status FaultInjector::Arm(Fault fault) {
  absl::MutexLock lock(&mu_);
  if (armed_.size() >= kMaxArmed) {
    return absl::ResourceExhaustedError(
        absl::StrCat("fault: at most ", kMaxArmed, " faults can be armed"));
  }
  armed_.push_back(std::move(fault));
  any_armed_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

size_t FaultInjector::Clear() {
  absl::MutexLock lock(&mu_);
  const size_t n = armed_.size();
  armed_.clear();
  any_armed_.store(false, std::memory_order_release);
  return n;
}

std::optional<Fault> FaultInjector::Take(absl::string_view action) {
  return TakeMatching(false, action);
}

std::optional<Fault> FaultInjector::TakeImds(absl::string_view kind) {
  return TakeMatching(true, kind);
}

std::optional<Fault> FaultInjector::TakeMatching(bool imds, absl::string_view action) {
  absl::MutexLock lock(&mu_);
  for (auto it = armed_.begin(); it != armed_.end(); ++it) {
    if (IsImdsFault(it->kind) != imds) continue;
    if (!it->action.empty() && it->action != action) continue;
    if (imds && CredentialsOnly(it->kind) && action != "credentials") continue;
    Fault taken = *it;
    if (it->count != Fault::kUntilCleared && --it->count == 0) {
      armed_.erase(it);
      any_armed_.store(!armed_.empty(), std::memory_order_release);
    }
    return taken;
  }
  return std::nullopt;
}

std::vector<Fault> FaultInjector::Armed() const {
  absl::MutexLock lock(&mu_);
  return armed_;
}

std::string FaultInjector::ToJson() const {
  std::vector<std::string> entries;
  for (const Fault& fault : Armed()) entries.push_back(fault.ToJson());
  return absl::StrCat("{\"faults\":[", absl::StrJoin(entries, ","), "]}");
}

}  // namespace emulator
}  // namespace otaverify

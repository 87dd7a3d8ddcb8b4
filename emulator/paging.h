// PageSizeCap: the largest page the emulator's List actions (ListOTAJobByFirmware,
// ListOTATaskByJob) return. A page holds min(PageSize, cap) items and the answer's PageSize is
// that effective size, so a small cap makes a handful of items span many pages — what a
// client's paging loop needs to be tested against (README.md, "Paging").
//
// Holds the start-up value (what POST /_emulator/reset restores) and the current one.
// Thread-safe.
#ifndef OTAVERIFY_EMULATOR_PAGING_H_
#define OTAVERIFY_EMULATOR_PAGING_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace otaverify {
namespace emulator {

inline constexpr int kDefaultMaxPageSize = 100;
// Far above any PageSize the List actions accept (200).
inline constexpr int kLargestMaxPageSize = 1000;

// INVALID_ARGUMENT unless 1 <= max_page_size <= kLargestMaxPageSize.
absl::Status ValidateMaxPageSize(int max_page_size);

class PageSizeCap {
 public:
  // REQUIRES: ValidateMaxPageSize(start_up).ok().
  explicit PageSizeCap(int start_up) : start_up_(start_up), current_(start_up) {}

  PageSizeCap(const PageSizeCap&) = delete;
  PageSizeCap& operator=(const PageSizeCap&) = delete;

  int Get() const;
  // min(requested, the cap).
  int Effective(int requested) const;
  // Applies a POST /_emulator/paging body ({"max_page_size":3}); nothing changes on error
  // (INVALID_ARGUMENT: malformed JSON, unknown fields, a value out of range). Returns the
  // settings as ToJson() renders them.
  absl::StatusOr<std::string> Update(absl::string_view json);
  // {"max_page_size":100} — GET /_emulator/paging's answer.
  std::string ToJson() const;
  void Reset();

 private:
  const int start_up_;
  mutable absl::Mutex mu_;
  int current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_PAGING_H_

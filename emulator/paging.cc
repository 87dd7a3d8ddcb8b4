#include "emulator/paging.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "emulator/paging.pb.h"
#include "google/protobuf/util/json_util.h"

namespace otaverify {
namespace emulator {

absl::Status ValidateMaxPageSize(int max_page_size) {
  if (max_page_size < 1 || max_page_size > kLargestMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_page_size ", max_page_size, " is outside 1..", kLargestMaxPageSize));
  }
  return absl::OkStatus();
}

int PageSizeCap::Get() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

int PageSizeCap::Effective(int requested) const {
  absl::MutexLock lock(&mu_);
  return std::min(requested, current_);
}

absl::StatusOr<std::string> PageSizeCap::Update(absl::string_view json) {
  PagingUpdate update;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a typo in a test must not be silently ignored
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &update, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("paging: ", status.ToString()));
  }
  absl::MutexLock lock(&mu_);
  if (update.has_max_page_size()) {
    if (absl::Status valid = ValidateMaxPageSize(update.max_page_size()); !valid.ok()) {
      return valid;
    }
    current_ = update.max_page_size();
  }
  return absl::StrCat("{\"max_page_size\":", current_, "}");
}

std::string PageSizeCap::ToJson() const { return absl::StrCat("{\"max_page_size\":", Get(), "}"); }

void PageSizeCap::Reset() {
  absl::MutexLock lock(&mu_);
  current_ = start_up_;
}

}  // namespace emulator
}  // namespace otaverify

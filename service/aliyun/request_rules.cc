#include "service/aliyun/request_rules.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/status/rich_status.h"

namespace otaverify {

int CodePoints(absl::string_view s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void RequestViolations::Add(std::string field, std::string description) {
  auto* v = bad_request_.add_field_violations();
  v->set_field(std::move(field));
  v->set_description(std::move(description));
}

absl::Status RequestViolations::ToStatus() const {
  if (bad_request_.field_violations_size() == 0) return absl::OkStatus();
  const auto& first = bad_request_.field_violations(0);
  std::string message = absl::StrCat(first.field(), ": ", first.description());
  if (bad_request_.field_violations_size() > 1) {
    absl::StrAppend(&message, " (and ", bad_request_.field_violations_size() - 1,
                    " more violations)");
  }
  absl::Status status = absl::InvalidArgumentError(message);
  google::rpc::ErrorInfo info;
  info.set_reason("INVALID_REQUEST");
  info.set_domain(kErrorDomain);
  (*info.mutable_metadata())["action"] = action_;
  SetDetail(status, bad_request_);
  SetDetail(status, info);
  return status;
}

void CheckId(RequestViolations& v, absl::string_view field, const std::string& value,
             bool required) {
  if (value.empty()) {
    if (required) v.Add(std::string(field), "is required");
    return;
  }
  if (CodePoints(value) > kMaxIdChars) {
    v.Add(std::string(field), absl::StrCat("must be at most ", kMaxIdChars, " characters"));
  } else if (std::any_of(value.begin(), value.end(), [](char c) {
               return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
             })) {
    v.Add(std::string(field), "must not contain control characters");
  }
}

}  // namespace otaverify

// Project-local gMock matchers for absl::Status and google.rpc details.
#ifndef OTAVERIFY_TESTS_TESTING_STATUS_MATCHERS_H_
#define OTAVERIFY_TESTS_TESTING_STATUS_MATCHERS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "service/status/rich_status.h"

namespace otaverify::testing {

MATCHER_P(StatusIs, code, absl::StrCat("has status code ", absl::StatusCodeToString(code))) {
  *result_listener << "status is " << arg;
  return arg.code() == code;
}

// Field names of the BadRequest detail, in order; empty if there is none.
inline std::vector<std::string> ViolatedFields(const absl::Status& status) {
  std::vector<std::string> out;
  auto bad_request = GetDetail<google::rpc::BadRequest>(status);
  if (!bad_request.has_value()) return out;
  for (const auto& v : bad_request->field_violations()) out.push_back(v.field());
  return out;
}

// The ErrorInfo reason, or "" if there is no ErrorInfo.
inline std::string ErrorReason(const absl::Status& status) {
  auto info = GetDetail<google::rpc::ErrorInfo>(status);
  return info.has_value() ? info->reason() : "";
}

}  // namespace otaverify::testing

#endif  // OTAVERIFY_TESTS_TESTING_STATUS_MATCHERS_H_

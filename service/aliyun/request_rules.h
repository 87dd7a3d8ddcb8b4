// Building blocks of request validation shared by every RPC: a collector of field violations
// that becomes INVALID_ARGUMENT with a google.rpc.BadRequest, and the common field rules.
//
// Thread-compatible value types and pure functions.
#ifndef OTAVERIFY_SERVICE_ALIYUN_REQUEST_RULES_H_
#define OTAVERIFY_SERVICE_ALIYUN_REQUEST_RULES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"

namespace otaverify {

// Longest product key, firmware id, job id or IoT instance id accepted.
inline constexpr int kMaxIdChars = 64;

// Unicode code points in valid UTF-8: the upstream documents lengths in characters and proto3
// strings are valid UTF-8.
int CodePoints(absl::string_view s);

class RequestViolations {
 public:
  // `action` is the upstream action the request is for, named in the ErrorInfo.
  explicit RequestViolations(absl::string_view action) : action_(action) {}

  // `field` is the proto field path ("target_device_names[3]", "tags[0].key").
  void Add(std::string field, std::string description);

  // OK when nothing was added; else INVALID_ARGUMENT whose message names the first violation,
  // with a BadRequest listing all of them and an ErrorInfo with reason INVALID_REQUEST.
  absl::Status ToStatus() const;

 private:
  std::string action_;
  google::rpc::BadRequest bad_request_;
};

// An id field: required or not, at most kMaxIdChars characters, no control characters.
void CheckId(RequestViolations& v, absl::string_view field, const std::string& value,
             bool required);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_ALIYUN_REQUEST_RULES_H_

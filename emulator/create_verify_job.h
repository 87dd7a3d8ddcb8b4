// CreateOTAVerifyJob parameters (protocol.md §6): from the flat business parameters to a typed
// VerifyJobSpec, with every check that needs no state; and the list and boolean rules the
// other OTA actions share.
//
// Structural faults (a missing required parameter, a list that is not 1-based and dense) are
// gateway-layer 400s, as the service reports malformed requests; value faults (too many
// devices, bad tags, out-of-range timeout) are business-layer errors (HTTP 200).
// Pure; thread-safe.
#ifndef OTAVERIFY_EMULATOR_CREATE_VERIFY_JOB_H_
#define OTAVERIFY_EMULATOR_CREATE_VERIFY_JOB_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emulator/api_error.h"

namespace otaverify {
namespace emulator {

inline constexpr int kMaxVerifyDevices = 10;
inline constexpr int kMaxTags = 10;
inline constexpr int kMaxTagKeyLength = 30;
inline constexpr int kMaxTagValueLength = 1024;
inline constexpr int kMaxTagTotalLength = 4096;

struct VerifyJobSpec {
  std::string iot_instance_id;  // empty: old public instance
  std::string product_key;
  std::string firmware_id;
  std::vector<std::string> device_names;
  std::vector<std::pair<std::string, std::string>> tags;
  std::optional<int> timeout_in_minutes;
  bool need_push = true;
  bool need_confirm = false;
  std::string download_protocol = "HTTPS";
};

// `params` are the request's business parameters (common ones removed), names unique.
std::optional<ApiError> ParseVerifyJobSpec(const std::map<std::string, std::string>& params,
                                           VerifyJobSpec* spec);

// Parameter rules the other OTA actions share with CreateOTAVerifyJob.

// An optional boolean parameter: absent leaves `*out` alone; "true" / "false"; anything else
// is the business error iot.common.InvalidFormattedParameter.
std::optional<ApiError> ParseBoolParam(const std::map<std::string, std::string>& params,
                                       const std::string& name, bool* out);

// The list `prefix`.1 .. `prefix`.N (protocol.md §2) in index order; empty if absent. A bad,
// zero-based or sparse index is the gateway-layer InvalidParameter (400).
std::optional<ApiError> ParseListParam(const std::map<std::string, std::string>& params,
                                       const std::string& prefix, std::vector<std::string>* values);

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_CREATE_VERIFY_JOB_H_

#include "emulator/create_verify_job.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace otaverify {
namespace emulator {
namespace {

// Far above any legal list length; bounds the work a hostile request can cause.
constexpr int kMaxListIndex = 1000;

ApiError Missing(absl::string_view name) {
  return GatewayError(400, absl::StrCat("Missing", name),
                      absl::StrCat(name, " is mandatory for this action."));
}

ApiError InvalidParameter(absl::string_view message) {
  return GatewayError(400, "InvalidParameter", std::string(message));
}

ApiError InvalidFormatted(absl::string_view name, absl::string_view value) {
  return BusinessError(
      "iot.common.InvalidFormattedParameter",
      absl::StrCat("The parameter ", name, " has an invalid value \"", value, "\"."));
}

// Parses the N of "Prefix.N..." as a canonical decimal (no sign, no leading zero). Zero and
// non-canonical indexes are rejected: lists are 1-based (protocol.md §2; the legacy C++ SDK's
// TargetDeviceName.0 is a bug the service does not accept).
std::optional<ApiError> ParseIndex(absl::string_view full_name, absl::string_view digits,
                                   int* index) {
  if (digits.empty() || digits.size() > 4 || !std::all_of(digits.begin(), digits.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      })) {
    return InvalidParameter(absl::StrCat("The parameter name ", full_name, " is invalid."));
  }
  if (digits[0] == '0') {
    return InvalidParameter(
        absl::StrCat("The parameter ", full_name, " is invalid: list indexes start at 1."));
  }
  if (!absl::SimpleAtoi(digits, index) || *index > kMaxListIndex) {
    return InvalidParameter(absl::StrCat("The parameter ", full_name, " is out of range."));
  }
  return std::nullopt;
}

// Lists must be dense: indexes 1..size.
template <typename T>
std::optional<ApiError> CheckDense(absl::string_view prefix, const std::map<int, T>& items) {
  int expected = 1;
  for (const auto& item : items) {
    if (item.first != expected) {
      return InvalidParameter(absl::StrCat("The parameter ", prefix, ".", expected,
                                           " is missing: lists are 1-based and dense."));
    }
    ++expected;
  }
  return std::nullopt;
}

bool ValidTagKey(absl::string_view key) {
  if (key.empty() || key.size() > kMaxTagKeyLength) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  return true;
}

std::optional<ApiError> ParseBool(const std::map<std::string, std::string>& params,
                                  absl::string_view name, bool* out) {
  auto it = params.find(std::string(name));
  if (it == params.end()) return std::nullopt;
  if (it->second == "true") {
    *out = true;
  } else if (it->second == "false") {
    *out = false;
  } else {
    return InvalidFormatted(name, it->second);
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ParseBoolParam(const std::map<std::string, std::string>& params,
                                       const std::string& name, bool* out) {
  return ParseBool(params, name, out);
}

std::optional<ApiError> ParseListParam(const std::map<std::string, std::string>& params,
                                       const std::string& prefix,
                                       std::vector<std::string>* values) {
  const std::string dotted = absl::StrCat(prefix, ".");
  std::map<int, std::string> items;
  for (auto it = params.lower_bound(dotted); it != params.end(); ++it) {
    absl::string_view rest = it->first;
    if (!absl::ConsumePrefix(&rest, dotted)) break;  // past the names with the prefix
    int index;
    if (auto error = ParseIndex(it->first, rest, &index)) return error;
    items[index] = it->second;
  }
  if (auto error = CheckDense(prefix, items)) return error;
  values->clear();
  for (auto& [index, value] : items) values->push_back(std::move(value));
  return std::nullopt;
}

std::optional<ApiError> ParseVerifyJobSpec(const std::map<std::string, std::string>& params,
                                           VerifyJobSpec* spec) {
  *spec = VerifyJobSpec();
  std::map<int, std::string> devices;
  struct TagParts {
    std::optional<std::string> key;
    std::optional<std::string> value;
  };
  std::map<int, TagParts> tags;

  for (const auto& [name, value] : params) {
    absl::string_view rest = name;
    if (absl::ConsumePrefix(&rest, "TargetDeviceName.")) {
      int index;
      if (auto error = ParseIndex(name, rest, &index)) return error;
      devices[index] = value;
    } else if (absl::ConsumePrefix(&rest, "Tag.")) {
      const size_t dot = rest.find('.');
      if (dot == absl::string_view::npos) {
        return InvalidParameter(absl::StrCat("The parameter name ", name, " is invalid."));
      }
      int index;
      if (auto error = ParseIndex(name, rest.substr(0, dot), &index)) return error;
      const absl::string_view field = rest.substr(dot + 1);
      if (field == "Key") {
        tags[index].key = value;
      } else if (field == "Value") {
        tags[index].value = value;
      } else {
        return InvalidParameter(absl::StrCat("The parameter name ", name, " is invalid."));
      }
    }
    // Anything else is ignored, as the service ignores parameters an action does not define.
  }

  auto get = [&params](absl::string_view name) -> const std::string* {
    auto it = params.find(std::string(name));
    return it == params.end() ? nullptr : &it->second;
  };
  const std::string* firmware_id = get("FirmwareId");
  if (firmware_id == nullptr || firmware_id->empty()) return Missing("FirmwareId");
  const std::string* product_key = get("ProductKey");
  if (product_key == nullptr || product_key->empty()) return Missing("ProductKey");
  if (devices.empty()) return Missing("TargetDeviceName");
  if (auto error = CheckDense("TargetDeviceName", devices)) return error;
  if (auto error = CheckDense("Tag", tags)) return error;

  spec->firmware_id = *firmware_id;
  spec->product_key = *product_key;
  if (const std::string* instance = get("IotInstanceId")) spec->iot_instance_id = *instance;

  std::set<std::string> seen;
  for (const auto& device : devices) {
    if (!seen.insert(device.second).second) {
      return BusinessError(
          "iot.ota.TargetDeviceNameInvalid",
          absl::StrCat("The device name ", device.second, " is listed more than once."));
    }
    spec->device_names.push_back(device.second);
  }
  if (spec->device_names.size() > static_cast<size_t>(kMaxVerifyDevices)) {
    return BusinessError("iot.ota.TargetDeviceNameInvalid",
                         absl::StrCat("A verify job takes 1 to ", kMaxVerifyDevices,
                                      " devices, got ", spec->device_names.size(), "."));
  }

  if (tags.size() > static_cast<size_t>(kMaxTags)) {
    return BusinessError("iot.ota.InvalidTag",
                         absl::StrCat("At most ", kMaxTags, " tags are allowed."));
  }
  size_t total = 0;
  for (const auto& [index, tag] : tags) {
    if (!tag.key || !tag.value) {
      return BusinessError("iot.ota.InvalidTag",
                           absl::StrCat("Tag.", index, " needs both Key and Value."));
    }
    if (!ValidTagKey(*tag.key)) {
      return BusinessError("iot.ota.InvalidTag",
                           absl::StrCat("Tag.", index, ".Key must be 1 to ", kMaxTagKeyLength,
                                        " characters of [A-Za-z0-9.]."));
    }
    if (tag.value->empty() || tag.value->size() > static_cast<size_t>(kMaxTagValueLength)) {
      return BusinessError("iot.ota.InvalidTag", absl::StrCat("Tag.", index, ".Value must be 1 to ",
                                                              kMaxTagValueLength, " characters."));
    }
    total += tag.key->size() + tag.value->size();
    spec->tags.emplace_back(*tag.key, *tag.value);
  }
  if (total > static_cast<size_t>(kMaxTagTotalLength)) {
    return BusinessError("iot.ota.InvalidTag",
                         absl::StrCat("All tag keys and values together exceed ",
                                      kMaxTagTotalLength, " characters."));
  }

  if (const std::string* timeout = get("TimeoutInMinutes")) {
    int minutes;
    if (!absl::SimpleAtoi(*timeout, &minutes))
      return InvalidFormatted("TimeoutInMinutes", *timeout);
    if (minutes < 1 || minutes > 1440) {
      return BusinessError("iot.ota.InvalidTimeoutInMinutes",
                           "TimeoutInMinutes must be between 1 and 1440.");
    }
    spec->timeout_in_minutes = minutes;
  }
  if (auto error = ParseBool(params, "NeedPush", &spec->need_push)) return error;
  if (auto error = ParseBool(params, "NeedConfirm", &spec->need_confirm)) return error;
  if (const std::string* protocol = get("DownloadProtocol")) {
    if (*protocol != "HTTPS" && *protocol != "MQTT") {
      return InvalidFormatted("DownloadProtocol", *protocol);
    }
    spec->download_protocol = *protocol;
  }
  return std::nullopt;
}

}  // namespace emulator
}  // namespace otaverify

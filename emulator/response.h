// Response bodies: a tiny ordered document (Doc) rendered as JSON or as the XML the service
// returns when a V1 caller omits Format=JSON (protocol.md §4), plus the two error-body shapes
// of protocol.md §8.
//
// Hand-written rather than protobuf JSON so field order matches the service's and XML comes
// from the same tree. Output is always valid UTF-8 (invalid input bytes become U+FFFD), since
// error messages echo caller-supplied values. Value types; thread-compatible.
#ifndef OTAVERIFY_EMULATOR_RESPONSE_H_
#define OTAVERIFY_EMULATOR_RESPONSE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "emulator/api_error.h"

namespace otaverify {
namespace emulator {

class Doc {
 public:
  Doc& Str(absl::string_view name, absl::string_view value);
  Doc& Bool(absl::string_view name, bool value);
  Doc& Int(absl::string_view name, int64_t value);
  Doc& Obj(absl::string_view name, Doc value);
  // A list of objects: JSON "name":[{...},...]; XML one <name> element per item, as the
  // service renders lists (protocol.md §7: Data.SimpleOTAJobInfo[]).
  Doc& Arr(absl::string_view name, std::vector<Doc> items);
  // Appends `other`'s fields to this document's.
  Doc& Merge(Doc other);

  std::string ToJson() const;
  // <?xml ...?><root>...</root>; element names are the field names.
  std::string ToXml(absl::string_view root) const;

 private:
  enum class Kind { kString, kBool, kInt, kObject, kArray };
  struct Entry {
    std::string name;
    Kind kind;
    std::string scalar;  // string value, or the literal of a bool / int
    std::vector<Entry> children;  // kObject: the fields; kArray: one kObject per item
  };
  static void AppendJson(const std::vector<Entry>& entries, std::string* out);
  static void AppendXml(const std::vector<Entry>& entries, std::string* out);

  std::vector<Entry> entries_;
};

// A rendered HTTP body.
struct Body {
  std::string content_type;
  std::string text;
};

// "https://api.aliyun.com/troubleshoot?q=<code>".
std::string RecommendUrl(absl::string_view code);

// Renders `error` in its layer's shape. `action` names the XML root of business errors
// (<ActionResponse>); gateway errors use <Error>.
Body RenderError(const ApiError& error, absl::string_view request_id, absl::string_view host,
                 absl::string_view action, bool json);

// {"RequestId":..., "Success":true, "Data":{...}} or its XML twin under <ActionResponse>.
Body RenderSuccess(Doc data, absl::string_view request_id, absl::string_view action, bool json);

// {"RequestId":..., "Success":true, <fields>...}: for the actions whose payload is not (only)
// under "Data" (QueryOTAFirmware's FirmwareInfo, the paging fields of the List actions).
Body RenderSuccessFields(Doc fields, absl::string_view request_id, absl::string_view action,
                         bool json);

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_RESPONSE_H_

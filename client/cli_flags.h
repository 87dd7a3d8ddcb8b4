// CliFlags: the command-line syntax of the `otaverify` CLI, shared by every subcommand.
//
// absl flags cannot accumulate repeated flags (`--device D1 --device D2`), so the CLI has this
// small parser. Each subcommand declares its flags in a table of CliFlagSpec; ParseCliFlags
// checks syntax only (known flag, value present, value of the right type) and never business
// rules, which the gateway owns and reports field by field in a BadRequest.
//
// Accepted forms:
//   --name value      --name=value       (a value may not start with "--" in the first form;
//                                          use --name=--odd-value for that)
//   --flag            --flag=true|false  (bool flags; a bare bool flag means true, and a bool
//                                          never consumes the next argument)
// Repeatable flags keep every value in order; any other flag given twice is a usage error, as
// is an unknown flag, a missing value or an unparsable bool, int or duration ("10s", "500ms").
// Every error message starts with the flag's name.
//
// A kRefused flag is one people will try (`--access_key_secret`) that a subcommand turns down
// on purpose: it is listed in the usage text and always rejected with its `help` as the reason.
// Its value, whatever form it takes, is never echoed back.
//
// Values, not threads: a parsed CliFlags is immutable and thread-compatible. Specs are
// expected to be static tables; ParseCliFlags copies what it keeps.
#ifndef OTAVERIFY_CLIENT_CLI_FLAGS_H_
#define OTAVERIFY_CLIENT_CLI_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace otaverify {

enum class CliFlagType {
  kString,
  kBool,
  kInt32,
  kDuration,
  kRefused,  // known, documented, always a usage error whose message is `help`
};

struct CliFlagSpec {
  absl::string_view name;  // without the leading "--"
  CliFlagType type = CliFlagType::kString;
  bool repeated = false;
  // Applied when the flag is absent; empty means "absent stays absent", which is how proto3
  // `optional` request fields stay unset.
  absl::string_view default_value;
  absl::string_view value_name;  // shown in usage, e.g. "HOST:PORT"
  absl::string_view help;
};

using CliFlagValue = std::variant<std::string, bool, int32_t, absl::Duration>;

class CliFlags {
 public:
  bool Has(absl::string_view name) const { return values_.find(name) != values_.end(); }

  // The (last) value of `name` as T, or nullopt if the flag was neither given nor defaulted.
  // T must match the flag's declared type; a mismatch is a programming error and yields
  // nullopt.
  template <typename T>
  std::optional<T> Get(absl::string_view name) const {
    const auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return std::nullopt;
    const T* value = std::get_if<T>(&it->second.back());
    if (value == nullptr) return std::nullopt;
    return *value;
  }

  // Every value of a repeatable flag, in command-line order.
  template <typename T>
  std::vector<T> GetAll(absl::string_view name) const {
    std::vector<T> out;
    const auto it = values_.find(name);
    if (it == values_.end()) return out;
    for (const CliFlagValue& value : it->second) {
      if (const T* typed = std::get_if<T>(&value)) out.push_back(*typed);
    }
    return out;
  }

  // Arguments that are not flags, in order. Subcommands without operands reject them.
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<CliFlags> ParseCliFlags(absl::Span<const CliFlagSpec>,
                                                absl::Span<const std::string>);

  std::map<std::string, std::vector<CliFlagValue>, std::less<>> values_;
  std::vector<std::string> positional_;
};

// Parses `args` (the arguments after the subcommand name) against `specs`.
// Errors are INVALID_ARGUMENT with a message naming the flag ("--deadline: ...").
absl::StatusOr<CliFlags> ParseCliFlags(absl::Span<const CliFlagSpec> specs,
                                       absl::Span<const std::string> args);

// True if `args` asks for help (--help, -h, --help=true) anywhere, so that help works even on
// an otherwise malformed command line. The value of a non-bool flag ("--device -h") is not a
// help request.
bool WantsHelp(absl::Span<const CliFlagSpec> specs, absl::Span<const std::string> args);

// One line per flag, for usage text: "  --device NAME (repeatable)  help [default: x]".
std::string FormatCliFlagsHelp(absl::Span<const CliFlagSpec> specs);

}  // namespace otaverify

#endif  // OTAVERIFY_CLIENT_CLI_FLAGS_H_

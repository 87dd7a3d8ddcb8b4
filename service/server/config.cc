#include "service/server/config.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace otaverify {
namespace {

using google::protobuf::Value;

absl::StatusOr<std::string> FlagText(const Value& value, absl::string_view key) {
  switch (value.kind_case()) {
    case Value::kStringValue:
      return value.string_value();
    case Value::kBoolValue:
      return std::string(value.bool_value() ? "true" : "false");
    case Value::kNumberValue: {
      const double n = value.number_value();
      // Converting a double outside long long's range (1e300) is undefined: such numbers, like
      // fractions, print as doubles.
      if (n >= -9223372036854775808.0 && n < 9223372036854775808.0 &&
          n == static_cast<double>(static_cast<long long>(n))) {
        return absl::StrCat(static_cast<long long>(n));
      }
      return absl::StrCat(n);
    }
    case Value::kListValue: {
      std::vector<std::string> items;
      for (const Value& item : value.list_value().values()) {
        absl::StatusOr<std::string> text = FlagText(item, key);
        if (!text.ok()) return text.status();
        items.push_back(*std::move(text));
      }
      return absl::StrJoin(items, ",");
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("setting \"", key, "\" must be a string, number, boolean or list"));
  }
}

}  // namespace

absl::flat_hash_set<std::string> FlagsOnCommandLine(int argc, char** argv) {
  absl::flat_hash_set<std::string> names;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
    arg = arg.substr(0, arg.find('='));
    names.insert(std::string(arg));
    // "--noverbose" sets the boolean flag "verbose".
    if (absl::ConsumePrefix(&arg, "no")) names.insert(std::string(arg));
  }
  return names;
}

absl::StatusOr<google::protobuf::Struct> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  google::protobuf::Struct config;
  if (!google::protobuf::util::JsonStringToMessage(buffer.str(), &config).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  return config;
}

absl::Status ApplyConfigFlags(const google::protobuf::Struct& config, absl::string_view origin,
                              const absl::flat_hash_set<std::string>& command_line) {
  for (const auto& [key, value] : config.fields()) {
    if (key == "profiles") continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(key);
    if (flag == nullptr || key == "config") {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": unknown setting \"", key, "\""));
    }
    if (command_line.contains(key)) continue;
    absl::StatusOr<std::string> text = FlagText(value, key);
    if (!text.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": ", text.status().message()));
    }
    std::string error;
    if (!flag->ParseFrom(*text, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": setting \"", key, "\": ", error));
    }
  }
  return absl::OkStatus();
}

}  // namespace otaverify

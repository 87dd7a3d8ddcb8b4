#include "service/credentials/credentials_ini.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace otaverify {

absl::StatusOr<CredentialsIni> ParseCredentialsIni(absl::string_view text) {
  CredentialsIni out;
  IniSection* section = nullptr;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line_number == 1) absl::ConsumePrefix(&line, "\xEF\xBB\xBF");  // UTF-8 BOM
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return absl::InvalidArgumentError(
            absl::StrCat("credentials file line ", line_number, ": unterminated section header"));
      }
      const std::string name(absl::StripAsciiWhitespace(line.substr(1, line.size() - 2)));
      if (name.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("credentials file line ", line_number, ": empty section name"));
      }
      auto [it, inserted] = out.try_emplace(name);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat("credentials file line ", line_number,
                                                       ": section [", name, "] given twice"));
      }
      section = &it->second;
      continue;
    }
    const size_t equals = line.find('=');
    if (equals == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("credentials file line ", line_number, ": expected key = value"));
    }
    const std::string key(absl::StripAsciiWhitespace(line.substr(0, equals)));
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("credentials file line ", line_number, ": empty key"));
    }
    if (section == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("credentials file line ", line_number,
                                                     ": key \"", key, "\" outside a section"));
    }
    auto [it, inserted] =
        section->try_emplace(key, std::string(absl::StripAsciiWhitespace(line.substr(equals + 1))));
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("credentials file line ", line_number, ": key \"", key, "\" given twice"));
    }
  }
  return out;
}

}  // namespace otaverify

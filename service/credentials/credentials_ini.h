// The credentials file's ini dialect (~/.alibabacloud/credentials, credentials.md §1):
// "[name]" opens a section, "key = value" sets a key in it, lines starting with '#' or ';' are
// comments. Values are taken verbatim after trimming (no inline comments, no quotes: a secret
// may contain '#' or ';'). Pure; thread-safe.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_INI_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_INI_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace otaverify {

using IniSection = std::map<std::string, std::string>;
using CredentialsIni = std::map<std::string, IniSection>;  // by section name

// INVALID_ARGUMENT naming the line number (never the line: it may hold a secret) for a key
// outside any section, a line that is neither, or a section or key given twice.
absl::StatusOr<CredentialsIni> ParseCredentialsIni(absl::string_view text);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_CREDENTIALS_INI_H_

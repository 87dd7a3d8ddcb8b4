// Configuration file support for Abseil flags.
//
// The optional JSON file named by --config is an object whose keys are flag names and whose
// values set those flags, e.g. {"listen": "0.0.0.0:50051", "allow_insecure_endpoint": false}.
// A flag given on the command line wins over the file. Unknown keys and values a flag cannot
// parse are errors naming the key, so a typo fails start-up instead of being ignored.
//
// Call once at start-up, after absl::ParseCommandLine, before any flag is read; not
// thread-safe against concurrent flag reads.
#ifndef OTAVERIFY_SERVICE_SERVER_CONFIG_H_
#define OTAVERIFY_SERVICE_SERVER_CONFIG_H_

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace otaverify {

// Names of the flags given in argv ("--name", "--name=v", "-name", "--noname" for booleans),
// up to a lone "--".
absl::flat_hash_set<std::string> FlagsOnCommandLine(int argc, char** argv);

// Applies the settings of `json` except those named in `command_line`. `origin` names the
// source in error messages.
absl::Status ApplyConfigJson(absl::string_view json, absl::string_view origin,
                             const absl::flat_hash_set<std::string>& command_line);
absl::Status ApplyConfigFile(const std::string& path,
                             const absl::flat_hash_set<std::string>& command_line);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_CONFIG_H_

// Configuration file support for Abseil flags.
//
// The optional JSON file named by --config is an object whose keys are flag names and whose
// values set those flags, e.g. {"listen": "0.0.0.0:50051", "allow_insecure_endpoint": false},
// plus an optional "profiles" object (see profiles.h).
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
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace otaverify {

// Names of the flags given in argv ("--name", "--name=v", "-name", "--noname" for booleans),
// up to a lone "--".
absl::flat_hash_set<std::string> FlagsOnCommandLine(int argc, char** argv);

// The JSON object in the file at `path`.
absl::StatusOr<google::protobuf::Struct> LoadConfigFile(const std::string& path);

// Sets the flags named by `config`'s keys, except those named in `command_line` and the
// "profiles" object (profiles.h reads it). `origin` names the source in error messages.
absl::Status ApplyConfigFlags(const google::protobuf::Struct& config, absl::string_view origin,
                              const absl::flat_hash_set<std::string>& command_line);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_CONFIG_H_

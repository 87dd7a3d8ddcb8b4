// The `otaverify` command-line tool: a table of subcommands over the Client library.
//
// RunCli is the whole program minus main(): it picks the subcommand, parses its flags
// (cli_flags.h), runs its handler and returns the process exit status (cli_output.h explains
// the convention). Output goes only to the two streams passed in, so tests drive the tool
// in-process. A new subcommand is one more CliCommand in the table in cli.cc: a flag table and
// a handler(flags, out, err) -> exit status.
//
// The CLI checks syntax only. Business rules (required fields, lengths, device counts) are the
// gateway's, which answers with a BadRequest naming each field; the CLI prints it.
//
// Thread-compatible: RunCli keeps no state between calls.
#ifndef OTAVERIFY_CLIENT_CLI_H_
#define OTAVERIFY_CLIENT_CLI_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/cli_flags.h"
#include "client/client.h"
#include "otaverify/v1/ota_verify.pb.h"

namespace otaverify {

struct CliCommand {
  absl::string_view name;
  absl::string_view summary;      // one line for `otaverify --help`
  absl::string_view synopsis;     // what follows "usage: otaverify <name> "
  absl::string_view description;  // a paragraph for `otaverify <name> --help`
  std::vector<CliFlagSpec> flags;
  // Returns the process exit status. Usage errors found after parsing (e.g. a malformed
  // --tag) return kUsageExitCode after printing a message naming the flag to `err`.
  int (*run)(const CliFlags& flags, std::ostream& out, std::ostream& err);
};

// Every subcommand, in the order the usage text lists them.
const std::vector<CliCommand>& CliCommands();

// `args` is argv without argv[0].
int RunCli(absl::Span<const std::string> args, std::ostream& out, std::ostream& err);

// Prints "otaverify: <message>" and a pointer to `otaverify <command> --help` to `err`; returns
// kUsageExitCode. For usage errors a handler finds after parsing.
int UsageError(absl::string_view command, const absl::Status& status, std::ostream& err);

// --- Building blocks shared by the subcommands. ---

inline constexpr char kJsonOneObjectHelp[] =
    "print exactly one JSON object on stdout, errors included";

// --target, --deadline (defaulting to `default_deadline`), --wait_for_ready, and --json
// described by `json_help`: the flags of every subcommand that calls the gateway.
std::vector<CliFlagSpec> GatewayCallFlags(absl::string_view default_deadline,
                                          absl::string_view json_help);

// The flags that describe a CreateVerifyJobRequest (`create`, `verify`).
std::vector<CliFlagSpec> CreateVerifyJobRequestFlags();

std::vector<CliFlagSpec> ConcatFlags(std::vector<CliFlagSpec> a, const std::vector<CliFlagSpec>& b);

// --- The `create` subcommand, exposed for tests. ---

// The request the `create` flags describe. Unset optional flags leave their proto3 `optional`
// fields unset; --return_existing is read where the command declares it (`verify`). Errors
// (INVALID_ARGUMENT) name the flag: a --tag without '=', an unknown --download_protocol.
absl::StatusOr<v1::CreateVerifyJobRequest> BuildCreateVerifyJobRequest(const CliFlags& flags);

// --deadline and --wait_for_ready; shared by every subcommand that calls the gateway.
CallOptions BuildCallOptions(const CliFlags& flags);

// Prints the outcome of CreateVerifyJob (text or JSON) and returns the exit status.
int PrintCreateVerifyJobResult(const absl::StatusOr<v1::CreateVerifyJobResponse>& result,
                               const CallMetadata& metadata, bool json, std::ostream& out,
                               std::ostream& err);

}  // namespace otaverify

#endif  // OTAVERIFY_CLIENT_CLI_H_

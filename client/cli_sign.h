// `otaverify sign`: a signing debugger for operators chasing SignatureDoesNotMatch.
//
// It signs one Alibaba Cloud RPC request offline with the gateway's own code (SignRpcCall,
// service/aliyun/rpc_request.h) and prints every stage: V1 canonical query string, string to
// sign, signature and URL; V3 canonical request, string to sign, signature, Authorization and
// the headers sent. An operator pins --nonce and --timestamp to the failing request's values
// and compares our string to sign with the one the service echoes in its error
// (protocol.md §4, §5, §8). Nothing is sent anywhere.
//
// The secret is read from --access_key_secret_file or ALIBABA_CLOUD_ACCESS_KEY_SECRET, never
// from an argument (argv is visible in `ps` and kept in shell history), and is never printed.
// The security token is part of what is signed, so it does appear in the output.
//
// Where the process environment, the clock and randomness come in: SignEnvironmentFromProcess.
// Everything else is a pure function of the flags and a SignEnvironment, so tests pin all of
// it. Thread-compatible; no state between calls.
#ifndef OTAVERIFY_CLIENT_CLI_SIGN_H_
#define OTAVERIFY_CLIENT_CLI_SIGN_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/cli.h"
#include "client/cli_flags.h"
#include "service/aliyun/rpc_request.h"
#include "service/credentials/credentials.h"

namespace otaverify {

// The table entry for `otaverify sign`.
CliCommand SignCommand();

// What `sign` takes from outside its command line.
struct SignEnvironment {
  std::string access_key_secret;  // ALIBABA_CLOUD_ACCESS_KEY_SECRET; empty means unset
  std::string security_token;     // ALIBABA_CLOUD_SECURITY_TOKEN; empty means unset
  absl::Time now;                 // signing time unless --timestamp
  std::string nonce;              // nonce unless --nonce
};

// The real environment variables, the system clock and a random (version 4) UUID.
SignEnvironment SignEnvironmentFromProcess();

// Everything SignRpcCall needs, decided from the flags and the environment.
struct SignInputs {
  RpcCall call;
  Credentials credentials;  // `source` says where the secret came from, for the output
  Endpoint endpoint;
  SignatureVersion version = SignatureVersion::kV3;
  absl::Time now;
  std::string nonce;
  // Lines for stderr: V1 common parameters replaced by a --param, empty values, ...
  std::vector<std::string> notes;
};

// INVALID_ARGUMENT naming the flag (or both secret sources) on any usage error: a bad
// --signature_version, --method, --host or --timestamp, a --param without '=' or given twice,
// a --header that is not x-acs-*, is set by the signer itself, or is used with V1, a missing
// --access_key_id or secret, an unreadable or empty --access_key_secret_file.
// `flags` must come from ParseCliFlags(SignCommand().flags, ...).
absl::StatusOr<SignInputs> BuildSignInputs(const CliFlags& flags, const SignEnvironment& env);

// The whole subcommand after parsing: prints the stages (text, or one JSON object with
// --json) to `out`, notes and usage errors to `err`; returns 0 or kUsageExitCode.
int RunSign(const CliFlags& flags, const SignEnvironment& env, std::ostream& out,
            std::ostream& err);

}  // namespace otaverify

#endif  // OTAVERIFY_CLIENT_CLI_SIGN_H_

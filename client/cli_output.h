// How the `otaverify` CLI renders call outcomes: exit statuses, human-readable text for a
// terminal, and single JSON objects for scripts (`--json`).
//
// Every subcommand that makes a call prints its result through these functions, so that all
// of them share one error format and one exit-status convention:
//   exit 0 on OK, else the numeric gRPC status code (3 INVALID_ARGUMENT, 9 FAILED_PRECONDITION,
//   14 UNAVAILABLE, ...). kUsageExitCode (2) is also used for command-line errors; it overlaps
//   with UNKNOWN, and the usage text says so. kVerificationFailedExitCode (20, above every gRPC
//   code) is `verify`'s answer when every call succeeded but the firmware did not end VERIFIED.
//
// Text errors go to stderr:
//   error: INVALID_ARGUMENT: <message>
//     <each google.rpc detail, decoded; unknown detail types are named with their size>
//     (details in a fixed order, also in JSON: ErrorInfo, BadRequest, PreconditionFailure,
//      QuotaFailure, RetryInfo, ResourceInfo, then any other by type URL)
//   upstream_request_id: <id>            (only when the call reached the upstream)
// JSON errors go to stdout as exactly one object:
//   {"code":"INVALID_ARGUMENT","message":"...","details":[{"@type":"type.googleapis.com/
//    google.rpc.BadRequest","fieldViolations":[...]}],"upstreamRequestId":"..."}
// Field names in all JSON output are protobuf's default lowerCamelCase (jsonName), the same
// spelling the details use, so a script sees one convention. Keys come in the order shown.
//
// Stateless free functions; thread-safe as long as the streams are not shared.
#ifndef OTAVERIFY_CLIENT_CLI_OUTPUT_H_
#define OTAVERIFY_CLIENT_CLI_OUTPUT_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "service/common/json.h"

namespace otaverify {

inline constexpr int kUsageExitCode = 2;

// `otaverify verify`: the calls succeeded, but the firmware ended FAILED, is still VERIFYING
// after the re-checks, or the job was canceled. Outside 0..16 so it never reads as a gRPC code.
inline constexpr int kVerificationFailedExitCode = 20;

// 0 for OK, else the gRPC status code number.
int ExitCodeForStatus(const absl::Status& status);

// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits: "2024-05-20T08:30:00.123Z".
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

// Protobuf JSON of `message` (lowerCamelCase names, default values omitted), one line.
std::string MessageToJson(const google::protobuf::Message& message);

// The text rendering of a non-OK status described above, ending in a newline.
// `upstream_request_id` may be empty.
void PrintStatusText(const absl::Status& status, absl::string_view upstream_request_id,
                     std::ostream& err);

// The JSON object described above, without a trailing newline. Details whose type this binary
// does not know are rendered as {"@type": url, "value": base64 of the serialized message}.
std::string StatusToJson(const absl::Status& status, absl::string_view upstream_request_id);

}  // namespace otaverify

#endif  // OTAVERIFY_CLIENT_CLI_OUTPUT_H_

#include "client/cli.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/cli_output.h"
#include "client/cli_sign.h"
#include "client/cli_workflow.h"

namespace otaverify {
namespace {

constexpr char kDefaultTarget[] = "127.0.0.1:50051";

constexpr char kExitStatusHelp[] =
    "Exit status:\n"
    "  0   success\n"
    "  N   the call failed with gRPC status code N (3 INVALID_ARGUMENT, 5 NOT_FOUND,\n"
    "      8 RESOURCE_EXHAUSTED, 9 FAILED_PRECONDITION, 14 UNAVAILABLE, ...)\n"
    "  2   usage error (bad command line). 2 is also gRPC UNKNOWN: a usage error prints\n"
    "      'otaverify: ...', a failed call prints 'error: UNKNOWN: ...' (or JSON with --json).\n"
    "  20  verify only: every call succeeded but the firmware did not end VERIFIED (it\n"
    "      FAILED, is still VERIFYING after the re-checks, or the job was canceled).\n";

// Flag tables below read {name, type, repeated, default, value name in usage, help}.

// --- create ---

absl::StatusOr<v1::Tag> ParseTag(absl::string_view text) {
  // The first '=' splits, so values may contain '='; keys may not (and the gateway would reject
  // such a key anyway).
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tag: expected KEY=VALUE, got \"", text, "\""));
  }
  v1::Tag tag;
  tag.set_key(std::string(text.substr(0, eq)));
  tag.set_value(std::string(text.substr(eq + 1)));
  return tag;
}

absl::StatusOr<v1::DownloadProtocol> ParseDownloadProtocol(absl::string_view text) {
  const std::string upper = absl::AsciiStrToUpper(text);
  if (upper == "HTTPS") return v1::DOWNLOAD_PROTOCOL_HTTPS;
  if (upper == "MQTT") return v1::DOWNLOAD_PROTOCOL_MQTT;
  return absl::InvalidArgumentError(
      absl::StrCat("--download_protocol: expected HTTPS or MQTT, got \"", text, "\""));
}

int RunCreate(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<v1::CreateVerifyJobRequest> request = BuildCreateVerifyJobRequest(flags);
  if (!request.ok()) return UsageError("create", request.status(), err);

  const Client client = Client::Connect(*flags.Get<std::string>("target"));
  CallMetadata metadata;
  const absl::StatusOr<v1::CreateVerifyJobResponse> response =
      client.CreateVerifyJob(*request, BuildCallOptions(flags), &metadata);
  return PrintCreateVerifyJobResult(response, metadata, flags.Get<bool>("json").value_or(false),
                                    out, err);
}

CliCommand CreateCommand() {
  return {
      "create",
      "create an OTA verification job (CreateVerifyJob)",
      "--product_key PK --firmware_id FW --device NAME [--device NAME ...] [flags]",
      "Creates an OTA verification job: the firmware package is pushed to up to 10 test\n"
      "devices before it may be pushed to the fleet (upstream CreateOTAVerifyJob). Not\n"
      "idempotent. The gateway validates the request and names every invalid field.",
      ConcatFlags(CreateVerifyJobRequestFlags(), GatewayCallFlags("10s", kJsonOneObjectHelp)),
      RunCreate,
  };
}

// --- usage ---

void PrintToolUsage(std::ostream& out) {
  out << "usage: otaverify <command> [flags]\n\nCommands:\n";
  for (const CliCommand& command : CliCommands()) {
    std::string name(command.name);
    name.resize(std::max<size_t>(name.size(), 10), ' ');
    out << "  " << name << " " << command.summary << "\n";
  }
  out << "\nRun 'otaverify <command> --help' for the flags of a command.\n\n" << kExitStatusHelp;
}

void PrintCommandUsage(const CliCommand& command, std::ostream& out) {
  out << "usage: otaverify " << command.name << " " << command.synopsis << "\n\n"
      << command.description << "\n\nFlags:\n"
      << FormatCliFlagsHelp(command.flags) << "\n"
      << kExitStatusHelp;
}

}  // namespace

int UsageError(absl::string_view command, const absl::Status& status, std::ostream& err) {
  err << "otaverify: " << status.message() << "\n"
      << "Run 'otaverify " << command << " --help' for usage.\n";
  return kUsageExitCode;
}

const std::vector<CliCommand>& CliCommands() {
  static const auto* const kCommands =
      new std::vector<CliCommand>{CreateCommand(), VerifyCommand(), StatusCommand(), JobCommand(),
                                  WatchCommand(),  CancelCommand(), SignCommand()};
  return *kCommands;
}

std::vector<CliFlagSpec> GatewayCallFlags(absl::string_view default_deadline,
                                          absl::string_view json_help) {
  return {
      {"target", CliFlagType::kString, false, kDefaultTarget, "HOST:PORT",
       "gateway address (insecure channel)"},
      {"deadline", CliFlagType::kDuration, false, default_deadline, "DURATION",
       "deadline of the call, e.g. 10s, 500ms"},
      {"wait_for_ready", CliFlagType::kBool, false, "", "",
       "wait for the gateway to become reachable instead of failing with UNAVAILABLE"},
      {"json", CliFlagType::kBool, false, "", "", json_help},
  };
}

std::vector<CliFlagSpec> CreateVerifyJobRequestFlags() {
  return {
      {"account", CliFlagType::kString, false, "", "NAME",
       "credential profile that signs the call (empty: the gateway's default)"},
      {"product_key", CliFlagType::kString, false, "", "PK", "ProductKey"},
      {"firmware_id", CliFlagType::kString, false, "", "FW", "firmware package id"},
      {"device", CliFlagType::kString, true, "", "NAME", "test device name"},
      {"tag", CliFlagType::kString, true, "", "KEY=VALUE",
       "tag sent with the update notice; splits on the first '='"},
      {"iot_instance_id", CliFlagType::kString, false, "", "ID", "IoT instance id"},
      {"timeout_minutes", CliFlagType::kInt32, false, "", "N",
       "device update timeout in minutes (unset: none)"},
      {"need_push", CliFlagType::kBool, false, "", "",
       "push the update to online devices (unset: upstream default, true)"},
      {"need_confirm", CliFlagType::kBool, false, "", "",
       "the device owner's app must confirm (unset: upstream default, false)"},
      {"download_protocol", CliFlagType::kString, false, "", "HTTPS|MQTT",
       "how devices download the package (unset: upstream default, HTTPS)"},
  };
}

std::vector<CliFlagSpec> ConcatFlags(std::vector<CliFlagSpec> a,
                                     const std::vector<CliFlagSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

absl::StatusOr<v1::CreateVerifyJobRequest> BuildCreateVerifyJobRequest(const CliFlags& flags) {
  v1::CreateVerifyJobRequest request;
  request.set_account(flags.Get<std::string>("account").value_or(""));
  request.set_product_key(flags.Get<std::string>("product_key").value_or(""));
  request.set_firmware_id(flags.Get<std::string>("firmware_id").value_or(""));
  for (std::string& device : flags.GetAll<std::string>("device")) {
    request.add_target_device_names(std::move(device));
  }
  for (const std::string& text : flags.GetAll<std::string>("tag")) {
    absl::StatusOr<v1::Tag> tag = ParseTag(text);
    if (!tag.ok()) return tag.status();
    *request.add_tags() = *std::move(tag);
  }
  request.set_iot_instance_id(flags.Get<std::string>("iot_instance_id").value_or(""));
  if (const auto minutes = flags.Get<int32_t>("timeout_minutes")) {
    request.set_timeout_in_minutes(*minutes);
  }
  if (const auto need_push = flags.Get<bool>("need_push")) request.set_need_push(*need_push);
  if (const auto need_confirm = flags.Get<bool>("need_confirm")) {
    request.set_need_confirm(*need_confirm);
  }
  if (const auto protocol = flags.Get<std::string>("download_protocol")) {
    absl::StatusOr<v1::DownloadProtocol> parsed = ParseDownloadProtocol(*protocol);
    if (!parsed.ok()) return parsed.status();
    request.set_download_protocol(*parsed);
  }
  // Only `verify` declares it.
  request.set_return_existing(flags.Get<bool>("return_existing").value_or(false));
  return request;
}

CallOptions BuildCallOptions(const CliFlags& flags) {
  CallOptions options;
  if (const auto deadline = flags.Get<absl::Duration>("deadline")) options.deadline = *deadline;
  options.wait_for_ready = flags.Get<bool>("wait_for_ready").value_or(false);
  return options;
}

int PrintCreateVerifyJobResult(const absl::StatusOr<v1::CreateVerifyJobResponse>& result,
                               const CallMetadata& metadata, bool json, std::ostream& out,
                               std::ostream& err) {
  if (!result.ok()) {
    if (json) {
      out << StatusToJson(result.status(), metadata.upstream_request_id) << "\n";
    } else {
      PrintStatusText(result.status(), metadata.upstream_request_id, err);
    }
    return ExitCodeForStatus(result.status());
  }
  if (json) {
    // The response alone: it already carries upstream_request_id.
    out << MessageToJson(*result) << "\n";
    return 0;
  }
  out << "job_id: " << result->job_id() << "\n";
  if (result->has_create_time()) {
    out << "create_time: " << FormatTimestamp(result->create_time()) << "\n";
  }
  // The trailer stands in if the response field was left empty.
  const std::string& request_id = result->upstream_request_id().empty()
                                      ? metadata.upstream_request_id
                                      : result->upstream_request_id();
  if (!request_id.empty()) out << "upstream_request_id: " << request_id << "\n";
  return 0;
}

int RunCli(absl::Span<const std::string> args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    PrintToolUsage(err);
    return kUsageExitCode;
  }
  const std::string& name = args[0];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintToolUsage(out);
    return 0;
  }
  for (const CliCommand& command : CliCommands()) {
    if (command.name != name) continue;
    const absl::Span<const std::string> rest = args.subspan(1);
    if (WantsHelp(command.flags, rest)) {
      PrintCommandUsage(command, out);
      return 0;
    }
    absl::StatusOr<CliFlags> flags = ParseCliFlags(command.flags, rest);
    if (!flags.ok()) return UsageError(command.name, flags.status(), err);
    if (!flags->positional().empty()) {
      return UsageError(command.name,
                        absl::InvalidArgumentError(absl::StrCat("unexpected argument \"",
                                                                flags->positional().front(), "\"")),
                        err);
    }
    return command.run(*flags, out, err);
  }
  err << "otaverify: unknown command \"" << name << "\"\n\n";
  PrintToolUsage(err);
  return kUsageExitCode;
}

}  // namespace otaverify

#include "client/cli_sign.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli_output.h"
#include "service/aliyun/nonce.h"
#include "service/aliyun/signer.h"

namespace otaverify {
namespace {

constexpr char kCommand[] = "sign";
constexpr char kSecretEnv[] = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
constexpr char kTokenEnv[] = "ALIBABA_CLOUD_SECURITY_TOKEN";
constexpr char kTimestampFormat[] = "%Y-%m-%dT%H:%M:%SZ";

// Headers SignRpcCall sets itself with V3, and the flag that sets each. A --header of the same
// name would be signed twice.
constexpr std::pair<absl::string_view, absl::string_view> kSignerHeaders[] = {
    {"host", "--host"},
    {"x-acs-action", "--action"},
    {"x-acs-version", "--api_version"},
    {"x-acs-date", "--timestamp"},
    {"x-acs-signature-nonce", "--nonce"},
    {"x-acs-content-sha256", ""},  // always the empty body's hash
    {"x-acs-security-token", "--security_token"},
};

absl::Status FlagError(absl::string_view flag, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", problem));
}

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// The whole file minus one trailing newline ("\n" or "\r\n"), as `echo secret > file` and
// editors leave one. The error names the path, never the content.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return FlagError("access_key_secret_file",
                     absl::StrCat("cannot open \"", path, "\": ", std::strerror(errno)));
  }
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return FlagError("access_key_secret_file", absl::StrCat("cannot read \"", path, "\""));
  }
  absl::string_view secret = content;
  if (absl::ConsumeSuffix(&secret, "\n")) absl::ConsumeSuffix(&secret, "\r");
  if (secret.empty()) {
    return FlagError("access_key_secret_file", absl::StrCat("\"", path, "\" is empty"));
  }
  return std::string(secret);
}

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text) {
  absl::Time time;
  std::string error;
  // The round trip rejects what ParseTime tolerates but the service would not sign the same
  // way: single-digit fields, a missing seconds field, ...
  if (!absl::ParseTime(kTimestampFormat, text, absl::UTCTimeZone(), &time, &error) ||
      FormatAliyunTime(time) != text) {
    return FlagError("timestamp", absl::StrCat("expected YYYY-MM-DDThh:mm:ssZ (UTC), e.g. "
                                               "2024-05-20T08:30:00Z; got \"",
                                               text, "\""));
  }
  return time;
}

absl::StatusOr<std::pair<std::string, std::string>> SplitNameValue(absl::string_view flag,
                                                                   absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return FlagError(flag, absl::StrCat("expected NAME=VALUE, got \"", text, "\""));
  }
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

absl::StatusOr<Params> ParseParams(const CliFlags& flags, SignatureVersion version,
                                   std::vector<std::string>* notes) {
  Params params;
  std::set<std::string> seen;
  for (const std::string& text : flags.GetAll<std::string>("param")) {
    absl::StatusOr<std::pair<std::string, std::string>> param = SplitNameValue("param", text);
    if (!param.ok()) return param.status();
    if (!seen.insert(param->first).second) {
      return FlagError("param", absl::StrCat("\"", param->first, "\" given more than once"));
    }
    if (version == SignatureVersion::kV1 && param->first == "Signature") {
      return FlagError("param", "Signature is what this tool computes; it is not an input");
    }
    if (param->second.empty()) {
      notes->push_back(absl::StrCat(
          "note: --param ", param->first,
          " has an empty value; the gateway never sends an empty parameter (protocol.md §2)"));
    }
    params.push_back(*std::move(param));
  }
  return params;
}

absl::StatusOr<Params> ParseHeaders(const CliFlags& flags, SignatureVersion version) {
  const std::vector<std::string> texts = flags.GetAll<std::string>("header");
  if (texts.empty()) return Params{};
  if (version == SignatureVersion::kV1) {
    return FlagError("header",
                     "V1 signs no headers (everything is in the query); use --param, or "
                     "--signature_version v3");
  }
  Params headers;
  std::set<std::string> seen;
  for (const std::string& text : texts) {
    absl::StatusOr<std::pair<std::string, std::string>> header = SplitNameValue("header", text);
    if (!header.ok()) return header.status();
    header->first = absl::AsciiStrToLower(header->first);
    if (!absl::StartsWith(header->first, "x-acs-")) {
      return FlagError("header", absl::StrCat("only x-acs-* headers are signed as extras, got \"",
                                              header->first, "\""));
    }
    for (const auto& [name, flag] : kSignerHeaders) {
      if (header->first != name) continue;
      return FlagError("header",
                       absl::StrCat(name, " is set by the signer itself",
                                    flag.empty() ? "" : absl::StrCat("; use ", flag, " instead")));
    }
    if (!seen.insert(header->first).second) {
      return FlagError("header", absl::StrCat("\"", header->first, "\" given more than once"));
    }
    headers.push_back(*std::move(header));
  }
  return headers;
}

// The common parameters the gateway adds to a V1 request with these inputs, read back from
// the gateway's own canonical query so that this list can never drift from SignRpcCall's.
Params GatewayCommonParamsV1(const SignInputs& inputs) {
  RpcCall bare = inputs.call;
  bare.params.clear();
  const SignedRequest signed_request = SignRpcCall(bare, inputs.credentials, inputs.endpoint,
                                                   SignatureVersion::kV1, inputs.now, inputs.nonce);
  Params common;
  for (absl::string_view pair : absl::StrSplit(signed_request.canonical, '&')) {
    const std::pair<absl::string_view, absl::string_view> split =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    std::string name, value;
    if (PercentDecode(split.first, &name) && PercentDecode(split.second, &value)) {
      common.emplace_back(std::move(name), std::move(value));
    }
  }
  return common;
}

void NoteReplacedCommonParams(SignInputs& inputs) {
  const Params common = GatewayCommonParamsV1(inputs);
  for (const auto& [name, value] : inputs.call.params) {
    for (const auto& [common_name, common_value] : common) {
      if (name != common_name) continue;
      if (value == common_value) {
        inputs.notes.push_back(absl::StrCat("note: --param ", name, "=", value,
                                            " names a common parameter; its value is the one the "
                                            "gateway sends anyway"));
      } else {
        inputs.notes.push_back(
            absl::StrCat("note: --param ", name, "=", value, " replaces the common parameter ",
                         name, "=", common_value,
                         " that the gateway sends; the gateway never does this, so this "
                         "request differs from the gateway's"));
      }
    }
  }
}

// --- output ---

absl::string_view VersionName(SignatureVersion version) {
  return version == SignatureVersion::kV1 ? "v1" : "v3";
}

// A multi-line value as an indented block, one output line per line of the value (empty lines
// included, as "  "), so a block can be cut out and diffed.
void PrintBlock(absl::string_view label, absl::string_view value, std::ostream& out) {
  out << label << ":\n";
  for (absl::string_view line : absl::StrSplit(value, '\n')) out << "  " << line << "\n";
  out << "\n";
}

void PrintText(const SignInputs& inputs, const SignedRequest& signed_request, std::ostream& out) {
  const bool v1 = inputs.version == SignatureVersion::kV1;
  out << "signature version: " << VersionName(inputs.version)
      << (v1 ? " (HMAC-SHA1)" : " (ACS3-HMAC-SHA256)") << "\n"
      << "access key id:     " << inputs.credentials.access_key_id << " (secret from "
      << inputs.credentials.source << (inputs.credentials.security_token.empty() ? "" : ", with a")
      << (inputs.credentials.security_token.empty() ? ")" : " security token)") << "\n"
      << "nonce:             " << inputs.nonce << "\n"
      << "timestamp:         " << FormatAliyunTime(inputs.now) << "\n\n";
  PrintBlock(v1 ? "canonical query string" : "canonical request", signed_request.canonical, out);
  PrintBlock("string to sign", signed_request.string_to_sign, out);
  PrintBlock("signature", signed_request.signature, out);
  if (!v1) PrintBlock("Authorization", signed_request.authorization, out);
  PrintBlock("request URL",
             absl::StrCat(signed_request.request.method, " ", signed_request.request.url), out);
  std::string headers;
  for (const auto& [name, value] : signed_request.request.headers) {
    absl::StrAppend(&headers, headers.empty() ? "" : "\n", name, ": ", value);
  }
  PrintBlock("headers sent", headers, out);
  out << "hint: compare 'string to sign' with the server string-to-sign in the "
         "SignatureDoesNotMatch message.\n"
         "  Pin --nonce and --timestamp to the failing request's "
      << (v1 ? "SignatureNonce and Timestamp" : "x-acs-signature-nonce and x-acs-date")
      << " first.\n"
      << (v1 ? "  Equal strings: the secret differs. Different strings: the first difference\n"
               "  names the parameter that was sent or encoded differently.\n"
             : "  Equal strings: the secret differs. Different hashes: the canonical requests\n"
               "  differ (query, headers, method); compare the canonical request above with\n"
               "  what the client sent.\n");
}

// One object, keys in the documented order (a Struct would print them in map order).
std::string ToJson(const SignInputs& inputs, const SignedRequest& signed_request) {
  std::string json =
      absl::StrCat(R"({"signatureVersion":)", JsonQuote(VersionName(inputs.version)),
                   R"(,"method":)", JsonQuote(signed_request.request.method), R"(,"canonical":)",
                   JsonQuote(signed_request.canonical), R"(,"stringToSign":)",
                   JsonQuote(signed_request.string_to_sign), R"(,"signature":)",
                   JsonQuote(signed_request.signature));
  if (inputs.version == SignatureVersion::kV3) {
    absl::StrAppend(&json, R"(,"authorization":)", JsonQuote(signed_request.authorization));
  }
  absl::StrAppend(&json, R"(,"url":)", JsonQuote(signed_request.request.url), R"(,"headers":{)");
  const char* separator = "";
  for (const auto& [name, value] : signed_request.request.headers) {
    absl::StrAppend(&json, separator, JsonQuote(name), ":", JsonQuote(value));
    separator = ",";
  }
  absl::StrAppend(&json, "}}");
  return json;
}

int RunSignFromProcess(const CliFlags& flags, std::ostream& out, std::ostream& err) {
  return RunSign(flags, SignEnvironmentFromProcess(), out, err);
}

}  // namespace

SignEnvironment SignEnvironmentFromProcess() {
  SignEnvironment env;
  env.access_key_secret = GetEnv(kSecretEnv);
  env.security_token = GetEnv(kTokenEnv);
  env.now = absl::Now();
  env.nonce = NewNonce();
  return env;
}

absl::StatusOr<SignInputs> BuildSignInputs(const CliFlags& flags, const SignEnvironment& env) {
  SignInputs inputs;

  const std::string version_text =
      absl::AsciiStrToLower(flags.Get<std::string>("signature_version").value_or("v3"));
  absl::StatusOr<SignatureVersion> version = ParseSignatureVersion(version_text);
  if (!version.ok()) {
    return FlagError("signature_version",
                     absl::StrCat("expected v1 or v3, got \"", version_text, "\""));
  }
  inputs.version = *version;

  inputs.call.method = absl::AsciiStrToUpper(flags.Get<std::string>("method").value_or("POST"));
  if (inputs.call.method != "POST" && inputs.call.method != "GET") {
    return FlagError("method",
                     absl::StrCat("expected POST or GET, got \"", inputs.call.method, "\""));
  }

  // A bare host means https, as the gateway's production endpoints; a URL is taken as is.
  const std::string host = flags.Get<std::string>("host").value_or("");
  absl::StatusOr<Endpoint> endpoint =
      ParseEndpoint(absl::StrContains(host, "://") ? host : absl::StrCat("https://", host));
  if (!endpoint.ok()) return FlagError("host", endpoint.status().message());
  inputs.endpoint = *std::move(endpoint);

  inputs.call.action = flags.Get<std::string>("action").value_or("");
  if (inputs.call.action.empty()) return FlagError("action", "must not be empty");
  inputs.call.version = flags.Get<std::string>("api_version").value_or("");
  if (inputs.call.version.empty()) return FlagError("api_version", "must not be empty");

  inputs.credentials.access_key_id = flags.Get<std::string>("access_key_id").value_or("");
  if (inputs.credentials.access_key_id.empty()) {
    return FlagError("access_key_id", "required (the AccessKeyId the failing request used)");
  }
  if (const auto path = flags.Get<std::string>("access_key_secret_file")) {
    absl::StatusOr<std::string> secret = ReadSecretFile(*path);
    if (!secret.ok()) return secret.status();
    inputs.credentials.access_key_secret = *std::move(secret);
    inputs.credentials.source = "--access_key_secret_file";
  } else if (!env.access_key_secret.empty()) {
    inputs.credentials.access_key_secret = env.access_key_secret;
    inputs.credentials.source = kSecretEnv;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("no AccessKey secret: pass --access_key_secret_file PATH or set ", kSecretEnv,
                     " (never as an argument)"));
  }
  inputs.credentials.security_token =
      flags.Get<std::string>("security_token").value_or(env.security_token);

  absl::StatusOr<Params> params = ParseParams(flags, inputs.version, &inputs.notes);
  if (!params.ok()) return params.status();
  inputs.call.params = *std::move(params);
  absl::StatusOr<Params> headers = ParseHeaders(flags, inputs.version);
  if (!headers.ok()) return headers.status();
  inputs.call.extra_signed_headers = *std::move(headers);

  inputs.nonce = flags.Get<std::string>("nonce").value_or(env.nonce);
  if (inputs.nonce.empty()) return FlagError("nonce", "must not be empty");
  inputs.now = env.now;
  if (const auto timestamp = flags.Get<std::string>("timestamp")) {
    absl::StatusOr<absl::Time> now = ParseTimestamp(*timestamp);
    if (!now.ok()) return now.status();
    inputs.now = *now;
  }

  if (inputs.version == SignatureVersion::kV1) NoteReplacedCommonParams(inputs);
  return inputs;
}

int RunSign(const CliFlags& flags, const SignEnvironment& env, std::ostream& out,
            std::ostream& err) {
  absl::StatusOr<SignInputs> inputs = BuildSignInputs(flags, env);
  if (!inputs.ok()) return UsageError(kCommand, inputs.status(), err);
  for (const std::string& note : inputs->notes) err << note << "\n";

  const SignedRequest signed_request =
      SignRpcCall(inputs->call, inputs->credentials, inputs->endpoint, inputs->version, inputs->now,
                  inputs->nonce);
  if (flags.Get<bool>("json").value_or(false)) {
    out << ToJson(*inputs, signed_request) << "\n";
  } else {
    PrintText(*inputs, signed_request, out);
  }
  return 0;
}

CliCommand SignCommand() {
  return {
      kCommand,
      "sign a request offline and print every stage (SignatureDoesNotMatch debugger)",
      "--access_key_id ID [--param NAME=VALUE ...] [--nonce N --timestamp T] [flags]",
      "Signs one Alibaba Cloud RPC request with the gateway's own signing code and prints\n"
      "the canonical string, the string to sign, the signature (and for V3 the\n"
      "Authorization header) and the request. Nothing is sent. Pin --nonce and --timestamp\n"
      "to a failing request's values and compare 'string to sign' with the server\n"
      "string-to-sign quoted in its SignatureDoesNotMatch message.\n"
      "\n"
      "The secret is read from --access_key_secret_file or $ALIBABA_CLOUD_ACCESS_KEY_SECRET\n"
      "and is never printed. For V1 the common parameters (Action, Version, Format=JSON,\n"
      "AccessKeyId, SignatureMethod, SignatureVersion, SignatureNonce, Timestamp,\n"
      "SecurityToken) are added as the gateway adds them; a --param of the same name\n"
      "replaces one (a note says so: the gateway never does that).",
      {
          {"signature_version", CliFlagType::kString, false, "v3", "v1|v3",
           "v1 (HMAC-SHA1) or v3 (ACS3-HMAC-SHA256)"},
          {"method", CliFlagType::kString, false, "POST", "POST|GET",
           "HTTP method of the request (signed)"},
          {"host", CliFlagType::kString, false, "iot.cn-shanghai.aliyuncs.com", "HOST",
           "endpoint host[:port] (https), or http(s)://host[:port]; V3 signs it"},
          {"action", CliFlagType::kString, false, "CreateOTAVerifyJob", "ACTION", "API action"},
          {"api_version", CliFlagType::kString, false, "2018-01-20", "VERSION", "API version"},
          {"access_key_id", CliFlagType::kString, false, "", "ID", "AccessKeyId (required)"},
          {"access_key_secret_file", CliFlagType::kString, false, "", "PATH",
           "file holding the AccessKey secret, one trailing newline ignored "
           "(default: $ALIBABA_CLOUD_ACCESS_KEY_SECRET)"},
          {"access_key_secret", CliFlagType::kRefused, false, "", "",
           "refused: a secret in argv is visible to every local user (ps, /proc) and is kept "
           "in shell history; use --access_key_secret_file PATH or "
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET"},
          {"security_token", CliFlagType::kString, false, "", "TOKEN",
           "STS security token (default: $ALIBABA_CLOUD_SECURITY_TOKEN)"},
          {"param", CliFlagType::kString, true, "", "NAME=VALUE",
           "business parameter, already flattened (TargetDeviceName.1=d1, Tag.1.Key=env); "
           "splits on the first '='"},
          {"header", CliFlagType::kString, true, "", "x-acs-NAME=VALUE",
           "extra header signed by V3, e.g. x-acs-credentials-provider=static_ak (the "
           "official SDK adds it)"},
          {"nonce", CliFlagType::kString, false, "", "NONCE",
           "SignatureNonce / x-acs-signature-nonce (default: a random UUID)"},
          {"timestamp", CliFlagType::kString, false, "", "TIME",
           "signing time, YYYY-MM-DDThh:mm:ssZ in UTC (default: now)"},
          {"json", CliFlagType::kBool, false, "", "",
           "print one JSON object: signatureVersion, method, canonical, stringToSign, "
           "signature, authorization (v3), url, headers"},
      },
      RunSignFromProcess,
  };
}

}  // namespace otaverify

// Tests of `otaverify sign` (client/cli_sign.h) in-process: flag handling, where the secret
// may and may not come from, notes, and the shape of both outputs. The environment, clock and
// nonce are a fake SignEnvironment, so nothing here reads the process environment.
// Reproduction of the official vectors is tests/integration/cli_sign_test.cc.
#include "client/cli_sign.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/cli.h"
#include "client/cli_flags.h"
#include "client/cli_output.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kSecret[] = "s3cr3t-Value/+=";
constexpr char kFixedNonce[] = "00000000-1111-4222-8333-444444444444";

SignEnvironment FakeEnv() {
  SignEnvironment env;
  env.access_key_secret = kSecret;
  env.now = absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());
  env.nonce = kFixedNonce;
  return env;
}

struct Outcome {
  int exit_status = -1;
  std::string out;
  std::string err;
};

// Parses `args` with the real flag table and runs the subcommand against `env`.
Outcome Sign(const std::vector<std::string>& args, const SignEnvironment& env = FakeEnv()) {
  Outcome outcome;
  absl::StatusOr<CliFlags> flags = ParseCliFlags(SignCommand().flags, args);
  if (!flags.ok()) {
    outcome.exit_status = kUsageExitCode;
    outcome.err = std::string(flags.status().message());
    return outcome;
  }
  std::ostringstream out, err;
  outcome.exit_status = RunSign(*flags, env, out, err);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

absl::StatusOr<SignInputs> Inputs(const std::vector<std::string>& args,
                                  const SignEnvironment& env = FakeEnv()) {
  absl::StatusOr<CliFlags> flags = ParseCliFlags(SignCommand().flags, args);
  if (!flags.ok()) return flags.status();
  return BuildSignInputs(*flags, env);
}

Outcome RunTool(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Outcome outcome;
  outcome.exit_status = RunCli(args, out, err);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

google::protobuf::Struct ParseJson(const std::string& json) {
  google::protobuf::Struct object;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &object);
  EXPECT_TRUE(status.ok()) << status << "\n" << json;
  return object;
}

std::string WriteTempFile(const std::string& name, const std::string& content) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// --- the secret ---

TEST(CliSignSecret, SecretAsArgumentIsRefusedWithoutEchoingIt) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"sign", "--access_key_id", "id", "--access_key_secret=hunter2"},
           {"sign", "--access_key_id", "id", "--access_key_secret", "hunter2"},
           {"sign", "--access_key_secret", "--access_key_id", "id"},
       }) {
    SCOPED_TRACE(args[2] + " " + args[3]);
    const Outcome outcome = RunTool(args);
    EXPECT_EQ(outcome.exit_status, kUsageExitCode);
    EXPECT_THAT(outcome.err, AllOf(HasSubstr("--access_key_secret:"), HasSubstr("shell history"),
                                   HasSubstr("--access_key_secret_file"),
                                   HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_SECRET")));
    EXPECT_THAT(outcome.err, Not(HasSubstr("hunter2")));
    EXPECT_THAT(outcome.out, IsEmpty());
  }
}

TEST(CliSignSecret, UsageTextExplainsWhyTheSecretFlagIsRefused) {
  const Outcome outcome = RunTool({"sign", "--help"});
  EXPECT_EQ(outcome.exit_status, 0);
  EXPECT_THAT(outcome.out, HasSubstr("--access_key_secret      "));
  EXPECT_THAT(outcome.out, HasSubstr("refused: a secret in argv"));
}

TEST(CliSignSecret, MissingSecretIsUsageErrorNamingBothSources) {
  SignEnvironment env = FakeEnv();
  env.access_key_secret.clear();
  const Outcome outcome = Sign({"--access_key_id", "id"}, env);
  EXPECT_EQ(outcome.exit_status, kUsageExitCode);
  EXPECT_THAT(outcome.err, AllOf(HasSubstr("--access_key_secret_file"),
                                 HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_SECRET")));
  EXPECT_THAT(outcome.out, IsEmpty());
}

TEST(CliSignSecret, MissingAccessKeyIdIsUsageError) {
  const Outcome outcome = Sign({});
  EXPECT_EQ(outcome.exit_status, kUsageExitCode);
  EXPECT_THAT(outcome.err, HasSubstr("--access_key_id"));
}

TEST(CliSignSecret, FileLosesOneTrailingNewlineAndBeatsTheEnvironment) {
  const std::string path = WriteTempFile("secret_newline", "file-secret\n");
  SignEnvironment env = FakeEnv();  // holds a different secret
  const absl::StatusOr<SignInputs> inputs =
      Inputs({"--access_key_id", "id", "--access_key_secret_file", path}, env);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->credentials.access_key_secret, "file-secret");
  EXPECT_EQ(inputs->credentials.source, "--access_key_secret_file");

  // Only one newline goes: a secret is taken byte for byte otherwise.
  const std::string crlf = WriteTempFile("secret_crlf", "file-secret\r\n");
  const std::string two = WriteTempFile("secret_two", "file-secret\n\n");
  EXPECT_EQ(Inputs({"--access_key_id", "id", "--access_key_secret_file", crlf}, env)
                ->credentials.access_key_secret,
            "file-secret");
  EXPECT_EQ(Inputs({"--access_key_id", "id", "--access_key_secret_file", two}, env)
                ->credentials.access_key_secret,
            "file-secret\n");
}

TEST(CliSignSecret, EnvironmentSecretIsUsedWithoutFile) {
  const absl::StatusOr<SignInputs> inputs = Inputs({"--access_key_id", "id"});
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->credentials.access_key_secret, kSecret);
  EXPECT_EQ(inputs->credentials.source, "ALIBABA_CLOUD_ACCESS_KEY_SECRET");
}

TEST(CliSignSecret, EmptyOrMissingSecretFileIsUsageErrorNamingTheFlag) {
  const std::string empty = WriteTempFile("secret_empty", "\n");
  for (const std::string& path : {empty, std::string("/nonexistent/secret")}) {
    SCOPED_TRACE(path);
    const Outcome outcome = Sign({"--access_key_id", "id", "--access_key_secret_file", path});
    EXPECT_EQ(outcome.exit_status, kUsageExitCode);
    EXPECT_THAT(outcome.err, HasSubstr("--access_key_secret_file"));
    EXPECT_THAT(outcome.err, HasSubstr(path));
  }
}

TEST(CliSignSecret, SecretIsNeverPrinted) {
  for (const char* version : {"v1", "v3"}) {
    for (const char* json : {"--json=false", "--json"}) {
      SCOPED_TRACE(absl::StrCat(version, " ", json));
      const Outcome outcome = Sign(
          {"--access_key_id", "id", "--signature_version", version, json, "--param", "Format=XML"});
      ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
      EXPECT_THAT(outcome.out + outcome.err, Not(HasSubstr("s3cr3t")));
    }
  }
}

TEST(CliSignSecret, SecurityTokenFlagBeatsEnvironmentAndIsSigned) {
  SignEnvironment env = FakeEnv();
  env.security_token = "env-token";
  absl::StatusOr<SignInputs> from_env = Inputs({"--access_key_id", "id"}, env);
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->credentials.security_token, "env-token");

  const Outcome outcome =
      Sign({"--access_key_id", "id", "--security_token", "flag-token", "--json"}, env);
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr(R"(x-acs-security-token:flag-token\n)"));
  EXPECT_THAT(outcome.out, Not(HasSubstr("env-token")));
}

// --- --param and --header ---

TEST(CliSignParams, ParamSplitsOnTheFirstEquals) {
  const absl::StatusOr<SignInputs> inputs =
      Inputs({"--access_key_id", "id", "--param", "FirmwareId=fw/abc+1=2"});
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  ASSERT_EQ(inputs->call.params.size(), 1u);
  EXPECT_EQ(inputs->call.params[0].first, "FirmwareId");
  EXPECT_EQ(inputs->call.params[0].second, "fw/abc+1=2");
}

TEST(CliSignParams, MalformedOrRepeatedParamIsUsageError) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--param", "NoEquals"},
           {"--param", "=value"},
           {"--param", "A=1", "--param", "A=2"},
       }) {
    std::vector<std::string> full = {"--access_key_id", "id"};
    full.insert(full.end(), args.begin(), args.end());
    EXPECT_THAT(Inputs(full).status(), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(Inputs(full).status().message(), HasSubstr("--param"));
  }
}

TEST(CliSignParams, ReplacingACommonV1ParameterPrintsANote) {
  const Outcome outcome = Sign({"--access_key_id", "id", "--signature_version", "v1", "--param",
                                "Format=XML", "--param", "ProductKey=pk", "--json"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("note: --param Format=XML replaces the common parameter "
                                     "Format=JSON"));
  EXPECT_THAT(outcome.err, Not(HasSubstr("ProductKey")));  // a business parameter: no note
  EXPECT_THAT(ParseJson(outcome.out).fields().at("canonical").string_value(),
              AllOf(HasSubstr("&Format=XML&"), Not(HasSubstr("Format=JSON"))));
}

TEST(CliSignParams, CommonParameterWithTheGatewaysValueGetsAMilderNote) {
  const Outcome outcome = Sign({"--access_key_id", "id", "--signature_version", "v1", "--param",
                                "SignatureMethod=HMAC-SHA1"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("note: --param SignatureMethod=HMAC-SHA1 names a common "
                                     "parameter; its value is the one the gateway sends"));
}

TEST(CliSignParams, NoOverrideNoteForV3WhereActionIsAHeader) {
  const Outcome outcome = Sign({"--access_key_id", "id", "--param", "Format=XML"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.err, IsEmpty());
}

TEST(CliSignParams, SignatureIsNotAnInputForV1) {
  const Outcome outcome =
      Sign({"--access_key_id", "id", "--signature_version", "v1", "--param", "Signature=abc"});
  EXPECT_EQ(outcome.exit_status, kUsageExitCode);
  EXPECT_THAT(outcome.err, HasSubstr("--param"));
}

TEST(CliSignHeaders, HeaderIsRejectedForV1) {
  const Outcome outcome = Sign({"--access_key_id", "id", "--signature_version", "v1", "--header",
                                "x-acs-credentials-provider=static_ak"});
  EXPECT_EQ(outcome.exit_status, kUsageExitCode);
  EXPECT_THAT(outcome.err, AllOf(HasSubstr("--header"), HasSubstr("V1")));
  EXPECT_THAT(outcome.out, IsEmpty());
}

TEST(CliSignHeaders, HeaderOutsideXAcsIsRejected) {
  const Outcome outcome = Sign({"--access_key_id", "id", "--header", "content-type=text/plain"});
  EXPECT_EQ(outcome.exit_status, kUsageExitCode);
  EXPECT_THAT(outcome.err, AllOf(HasSubstr("--header"), HasSubstr("x-acs-")));
}

TEST(CliSignHeaders, HeaderTheSignerSetsItselfPointsToItsFlag) {
  const Outcome outcome = Sign({"--access_key_id", "id", "--header", "X-Acs-Date=whenever"});
  EXPECT_EQ(outcome.exit_status, kUsageExitCode);
  EXPECT_THAT(outcome.err, AllOf(HasSubstr("--header"), HasSubstr("--timestamp")));
}

TEST(CliSignHeaders, ExtraHeaderIsLowerCasedSignedAndSent) {
  const Outcome outcome =
      Sign({"--access_key_id", "id", "--header", "X-Acs-Credentials-Provider=static_ak", "--json"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  const google::protobuf::Struct json = ParseJson(outcome.out);
  EXPECT_THAT(json.fields().at("canonical").string_value(),
              HasSubstr("\nx-acs-credentials-provider:static_ak\n"));
  EXPECT_THAT(json.fields().at("authorization").string_value(),
              HasSubstr("x-acs-content-sha256;x-acs-credentials-provider;x-acs-date"));
  EXPECT_EQ(json.fields()
                .at("headers")
                .struct_value()
                .fields()
                .at("x-acs-credentials-provider")
                .string_value(),
            "static_ak");
}

// --- other flags ---

TEST(CliSignFlags, BadTimestampIsUsageErrorNamingTheFlag) {
  for (const char* timestamp :
       {"2024-05-20 08:30:00", "2024-05-20T08:30:00", "2024-5-20T08:30:00Z",
        "2024-05-20T08:30:00.5Z", "2024-05-20T08:30:00+08:00", "yesterday", ""}) {
    SCOPED_TRACE(timestamp);
    const Outcome outcome = Sign({"--access_key_id", "id", "--timestamp", timestamp});
    EXPECT_EQ(outcome.exit_status, kUsageExitCode);
    EXPECT_THAT(outcome.err, HasSubstr("--timestamp"));
  }
}

TEST(CliSignFlags, PinnedTimestampAndNonceAreSigned) {
  const absl::StatusOr<SignInputs> inputs =
      Inputs({"--access_key_id", "id", "--timestamp", "2016-02-23T12:46:24Z", "--nonce", "n-1"});
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(FormatAliyunTime(inputs->now), "2016-02-23T12:46:24Z");
  EXPECT_EQ(inputs->nonce, "n-1");
}

TEST(CliSignFlags, UnpinnedTimestampAndNonceComeFromTheEnvironment) {
  const Outcome outcome = Sign({"--access_key_id", "id", "--json"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  const std::string canonical = ParseJson(outcome.out).fields().at("canonical").string_value();
  EXPECT_THAT(canonical, HasSubstr("\nx-acs-date:2024-05-20T08:30:00Z\n"));
  EXPECT_THAT(canonical, HasSubstr(absl::StrCat("\nx-acs-signature-nonce:", kFixedNonce, "\n")));
}

TEST(CliSignFlags, RandomNoncesAreVersion4UuidsAndDiffer) {
  const std::string a = SignEnvironmentFromProcess().nonce;
  const std::string b = SignEnvironmentFromProcess().nonce;
  EXPECT_NE(a, b);
  EXPECT_THAT(a, ::testing::MatchesRegex(
                     "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
}

TEST(CliSignFlags, BadVersionMethodOrHostIsUsageErrorNamingTheFlag) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--signature_version", "v2"},
      {"--method", "PUT"},
      {"--host", "https://iot.example.com/path"},
      {"--action", ""},
  };
  for (const auto& [flag, value] : cases) {
    SCOPED_TRACE(flag);
    const Outcome outcome = Sign({"--access_key_id", "id", flag, value});
    EXPECT_EQ(outcome.exit_status, kUsageExitCode);
    EXPECT_THAT(outcome.err, HasSubstr(flag));
  }
}

TEST(CliSignFlags, DefaultsSignCreateOtaVerifyJobWithV3AtShanghai) {
  const absl::StatusOr<SignInputs> inputs = Inputs({"--access_key_id", "id"});
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->version, SignatureVersion::kV3);
  EXPECT_EQ(inputs->call.method, "POST");
  EXPECT_EQ(inputs->call.action, "CreateOTAVerifyJob");
  EXPECT_EQ(inputs->call.version, "2018-01-20");
  EXPECT_EQ(inputs->endpoint.host, "iot.cn-shanghai.aliyuncs.com");
  EXPECT_EQ(inputs->endpoint.base_url, "https://iot.cn-shanghai.aliyuncs.com");
}

TEST(CliSignFlags, HostMayBeAUrlWithPort) {
  const absl::StatusOr<SignInputs> inputs =
      Inputs({"--access_key_id", "id", "--host", "http://127.0.0.1:18080"});
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->endpoint.host, "127.0.0.1:18080");
  EXPECT_EQ(inputs->endpoint.base_url, "http://127.0.0.1:18080");
}

// --- output ---

// protocol.md §5 / signature-vectors.json "CreateOTAVerifyJob minimal header set".
const std::vector<std::string> kMinimalV3 = {
    "--access_key_id", "testid",
    "--nonce",         "3c2b1a09-8f7e-4d6c-9b5a-0123456789ab",
    "--timestamp",     "2024-05-20T08:34:00Z",
    "--param",         "FirmwareId=UfuxnwygsuSkVE0VCNkg0100",
    "--param",         "ProductKey=a1Ww7Kp1vCx",
    "--param",         "TargetDeviceName.1=dev-001",
    "--param",         "TimeoutInMinutes=60"};

SignEnvironment VectorEnv() {
  SignEnvironment env = FakeEnv();
  env.access_key_secret = "testsecret";
  return env;
}

TEST(CliSignOutput, TextShowsEveryV3StageAsIndentedLines) {
  const Outcome outcome = Sign(kMinimalV3, VectorEnv());
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("canonical request:\n"
                                     "  POST\n"
                                     "  /\n"
                                     "  FirmwareId=UfuxnwygsuSkVE0VCNkg0100&ProductKey=a1Ww7Kp1vCx&"
                                     "TargetDeviceName.1=dev-001&TimeoutInMinutes=60\n"
                                     "  host:iot.cn-shanghai.aliyuncs.com\n"));
  EXPECT_THAT(outcome.out, HasSubstr("  x-acs-version:2018-01-20\n"
                                     "  \n"
                                     "  host;x-acs-action;x-acs-content-sha256;x-acs-date;"
                                     "x-acs-signature-nonce;x-acs-version\n"));
  EXPECT_THAT(outcome.out,
              HasSubstr("string to sign:\n  ACS3-HMAC-SHA256\n  "
                        "3b025cf17fd3db26fb0eabaea72ead9622ce4aa4528a361b6225b6fefbc7fc74\n"));
  EXPECT_THAT(outcome.out, HasSubstr("signature:\n  ee7c5d66c38965dfd275c8d09ed0bab903a706fdd1ffe4c"
                                     "89b0fc54504fd202e\n"));
  EXPECT_THAT(outcome.out, HasSubstr("Authorization:\n  ACS3-HMAC-SHA256 Credential=testid,"));
  EXPECT_THAT(outcome.out, HasSubstr("headers sent:\n  Host: iot.cn-shanghai.aliyuncs.com\n"));
  EXPECT_THAT(outcome.out, HasSubstr("  x-acs-date: 2024-05-20T08:34:00Z\n"));
  EXPECT_THAT(outcome.out, HasSubstr("compare 'string to sign' with the server string-to-sign "
                                     "in the SignatureDoesNotMatch message"));
}

TEST(CliSignOutput, TextShowsEveryV1StageAndTheUrl) {
  const Outcome outcome = Sign({"--signature_version", "v1", "--access_key_id", "testid", "--nonce",
                                "n", "--timestamp", "2024-05-20T08:30:00Z"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("canonical query string:\n  AccessKeyId=testid&Action="
                                     "CreateOTAVerifyJob&Format=JSON&"));
  EXPECT_THAT(outcome.out, HasSubstr("string to sign:\n  POST&%2F&AccessKeyId%3Dtestid%26"));
  EXPECT_THAT(outcome.out, HasSubstr("signature:\n  "));
  EXPECT_THAT(outcome.out,
              HasSubstr("request URL:\n  POST https://iot.cn-shanghai.aliyuncs.com/?Action="));
  EXPECT_THAT(outcome.out, HasSubstr("&Signature="));
  EXPECT_THAT(outcome.out, Not(HasSubstr("Authorization")));
}

TEST(CliSignOutput, JsonIsOneObjectWithTheDocumentedKeysInOrder) {
  const Outcome outcome = Sign(
      [] {
        std::vector<std::string> args = kMinimalV3;
        args.push_back("--json");
        return args;
      }(),
      VectorEnv());
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  ASSERT_EQ(outcome.out.find('\n'), outcome.out.size() - 1) << "one line: " << outcome.out;
  const google::protobuf::Struct json = ParseJson(outcome.out);
  EXPECT_EQ(json.fields().at("signatureVersion").string_value(), "v3");
  EXPECT_EQ(json.fields().at("method").string_value(), "POST");
  EXPECT_EQ(json.fields().at("signature").string_value(),
            "ee7c5d66c38965dfd275c8d09ed0bab903a706fdd1ffe4c89b0fc54504fd202e");
  EXPECT_EQ(json.fields().at("stringToSign").string_value(),
            "ACS3-HMAC-SHA256\n3b025cf17fd3db26fb0eabaea72ead9622ce4aa4528a361b6225b6fefbc7fc74");
  EXPECT_EQ(json.fields().at("url").string_value(),
            "https://iot.cn-shanghai.aliyuncs.com/?FirmwareId=UfuxnwygsuSkVE0VCNkg0100&"
            "ProductKey=a1Ww7Kp1vCx&TargetDeviceName.1=dev-001&TimeoutInMinutes=60");
  EXPECT_EQ(json.fields().at("headers").struct_value().fields().at("Authorization").string_value(),
            json.fields().at("authorization").string_value());
  // Key order is part of the contract (scripts may diff the raw line).
  const std::vector<std::string> keys = {
      "signatureVersion", "method",        "canonical", "stringToSign",
      "signature",        "authorization", "url",       "headers"};
  size_t at = 0;
  for (const std::string& key : keys) {
    const size_t found = outcome.out.find(absl::StrCat("\"", key, "\":"), at);
    ASSERT_NE(found, std::string::npos) << key;
    at = found;
  }
}

TEST(CliSignOutput, V1JsonHasNoAuthorization) {
  const Outcome outcome = Sign({"--signature_version", "v1", "--access_key_id", "id", "--json"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  const google::protobuf::Struct json = ParseJson(outcome.out);
  EXPECT_EQ(json.fields().at("signatureVersion").string_value(), "v1");
  EXPECT_FALSE(json.fields().contains("authorization"));
  EXPECT_THAT(json.fields().at("url").string_value(), HasSubstr("&Signature="));
}

TEST(CliSignOutput, JsonEscapesQuotesAndNonAsciiHeaderValues) {
  const Outcome outcome =
      Sign({"--access_key_id", "id", "--header", "x-acs-note=say \"hi\" 华东\\", "--json"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  const google::protobuf::Struct json = ParseJson(outcome.out);
  EXPECT_EQ(json.fields().at("headers").struct_value().fields().at("x-acs-note").string_value(),
            "say \"hi\" 华东\\");
}

}  // namespace
}  // namespace otaverify

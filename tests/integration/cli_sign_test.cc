// `otaverify sign`, the real binary, against every official vector in signature-vectors.json:
// each vector becomes the command line an operator would type (business parameters as
// --param, the rest as the dedicated flags, nonce and time pinned), and the tool's --json output
// must reproduce the vector's canonical string, string to sign, signature and, for V3,
// Authorization exactly. The secret travels through a file for some vectors and through the
// environment for the others; it must never be printed.
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace otaverify {
namespace {

using ::otaverify::testing::CommandResult;
using ::otaverify::testing::RunCommand;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kEmptyBodySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

google::protobuf::Struct ParseJsonObject(const std::string& json) {
  google::protobuf::Struct object;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &object);
  EXPECT_TRUE(status.ok()) << status << "\n" << json;
  return object;
}

const google::protobuf::Struct& Vectors() {
  static const auto* const kVectors = [] {
    std::ifstream in(OTAVERIFY_TEST_DATA_DIR "/signature-vectors.json");
    std::stringstream text;
    text << in.rdbuf();
    return new google::protobuf::Struct(ParseJsonObject(text.str()));
  }();
  return *kVectors;
}

std::vector<const google::protobuf::Struct*> VectorsOf(const std::string& version) {
  std::vector<const google::protobuf::Struct*> out;
  const auto it = Vectors().fields().find(version);
  if (it == Vectors().fields().end()) return out;
  for (const google::protobuf::Value& value : it->second.list_value().values()) {
    out.push_back(&value.struct_value());
  }
  return out;
}

std::string Str(const google::protobuf::Struct& object, const std::string& key) {
  const auto it = object.fields().find(key);
  EXPECT_NE(it, object.fields().end()) << "no \"" << key << "\"";
  return it == object.fields().end() ? "" : it->second.string_value();
}

// Name/value pairs of a JSON object, sorted by name (a Struct is a map).
std::map<std::string, std::string> Pairs(const google::protobuf::Struct& object,
                                         const std::string& key) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : object.fields().at(key).struct_value().fields()) {
    out[name] = value.string_value();
  }
  return out;
}

// The command line for one vector. The secret goes through a file when `secret_in_file`, else
// through the environment; `env -u` keeps whatever the test runner's environment holds out.
std::vector<std::string> Command(const std::string& secret, bool secret_in_file,
                                 const std::string& vector_name,
                                 const std::vector<std::string>& sign_args) {
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "-u",
                                   "ALIBABA_CLOUD_SECURITY_TOKEN"};
  std::vector<std::string> secret_args;
  if (secret_in_file) {
    std::string file_name = absl::StrCat("secret_", vector_name);
    for (char& c : file_name) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    const std::string path = absl::StrCat(::testing::TempDir(), "/", file_name);
    std::ofstream(path, std::ios::binary) << secret << "\n";  // as `echo` writes it
    secret_args = {"--access_key_secret_file", path};
  } else {
    argv.push_back(absl::StrCat("ALIBABA_CLOUD_ACCESS_KEY_SECRET=", secret));
  }
  argv.push_back(OTAVERIFY_CLI_BIN);
  argv.push_back("sign");
  argv.insert(argv.end(), sign_args.begin(), sign_args.end());
  argv.insert(argv.end(), secret_args.begin(), secret_args.end());
  argv.push_back("--json");
  return argv;
}

std::string Printable(const std::vector<std::string>& argv) { return absl::StrJoin(argv, " "); }

// Output is stdout and stderr merged: the JSON object is the one line starting with '{'.
google::protobuf::Struct JsonLine(const std::string& output) {
  std::vector<std::string> objects;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, "{")) objects.emplace_back(line);
  }
  EXPECT_EQ(objects.size(), 1u) << output;
  return objects.empty() ? google::protobuf::Struct() : ParseJsonObject(objects.front());
}

TEST(CliSignVectors, ReproducesEveryV1Vector) {
  const std::vector<const google::protobuf::Struct*> vectors = VectorsOf("v1");
  ASSERT_FALSE(vectors.empty());
  int index = 0;  // even: the secret comes from a file; odd: from the environment
  for (const google::protobuf::Struct* vector : vectors) {
    const std::string name = Str(*vector, "name");
    SCOPED_TRACE(name);
    const std::map<std::string, std::string> params = Pairs(*vector, "params");
    std::vector<std::string> args = {"--signature_version", "v1", "--method",
                                     Str(*vector, "method")};
    bool replaces_common = false;
    for (const auto& [param, value] : params) {
      // The common parameters the tool adds; only values that differ from the gateway's are
      // passed as --param (and replace the gateway's).
      if (param == "Action") {
        args.insert(args.end(), {"--action", value});
      } else if (param == "Version") {
        args.insert(args.end(), {"--api_version", value});
      } else if (param == "AccessKeyId") {
        args.insert(args.end(), {"--access_key_id", value});
      } else if (param == "SignatureNonce") {
        args.insert(args.end(), {"--nonce", value});
      } else if (param == "Timestamp") {
        args.insert(args.end(), {"--timestamp", value});
      } else if ((param == "Format" && value == "JSON") ||
                 (param == "SignatureMethod" && value == "HMAC-SHA1") ||
                 (param == "SignatureVersion" && value == "1.0")) {
        // Added by the tool with this very value.
      } else {
        if (param == "Format" || param == "SignatureMethod" || param == "SignatureVersion") {
          replaces_common = true;
        }
        args.insert(args.end(), {"--param", absl::StrCat(param, "=", value)});
      }
    }
    const std::string secret = Str(*vector, "access_key_secret");
    const std::vector<std::string> argv = Command(secret, index++ % 2 == 0, name, args);

    const absl::StatusOr<CommandResult> result = RunCommand(argv);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->exit_status, 0) << Printable(argv) << "\n" << result->output;
    const google::protobuf::Struct json = JsonLine(result->output);
    EXPECT_EQ(Str(json, "signatureVersion"), "v1");
    EXPECT_EQ(Str(json, "method"), Str(*vector, "method"));
    EXPECT_EQ(Str(json, "canonical"), Str(*vector, "canonical_query"));
    EXPECT_EQ(Str(json, "stringToSign"), Str(*vector, "string_to_sign"));
    EXPECT_EQ(Str(json, "signature"), Str(*vector, "signature"));
    EXPECT_FALSE(json.fields().contains("authorization"));
    if (replaces_common) {
      EXPECT_THAT(result->output, HasSubstr("note: --param Format="));
    } else {
      EXPECT_THAT(result->output, Not(HasSubstr("note:")));
    }
    EXPECT_THAT(result->output, Not(HasSubstr(secret)));
  }
}

TEST(CliSignVectors, ReproducesEveryV3Vector) {
  const std::vector<const google::protobuf::Struct*> vectors = VectorsOf("v3");
  ASSERT_FALSE(vectors.empty());
  int index = 0;  // even: the secret comes from a file; odd: from the environment
  for (const google::protobuf::Struct* vector : vectors) {
    const std::string name = Str(*vector, "name");
    SCOPED_TRACE(name);
    ASSERT_EQ(Str(*vector, "body"), "");  // the tool signs an empty body, as the gateway
    std::vector<std::string> args = {"--signature_version", "v3", "--method",
                                     Str(*vector, "method")};
    args.insert(args.end(), {"--access_key_id", Str(*vector, "access_key_id")});
    for (const auto& [param, value] : Pairs(*vector, "query")) {
      args.insert(args.end(), {"--param", absl::StrCat(param, "=", value)});
    }
    for (const auto& [header, value] : Pairs(*vector, "headers")) {
      if (header == "host") {
        args.insert(args.end(), {"--host", value});
      } else if (header == "x-acs-action") {
        args.insert(args.end(), {"--action", value});
      } else if (header == "x-acs-version") {
        args.insert(args.end(), {"--api_version", value});
      } else if (header == "x-acs-date") {
        args.insert(args.end(), {"--timestamp", value});
      } else if (header == "x-acs-signature-nonce") {
        args.insert(args.end(), {"--nonce", value});
      } else if (header == "x-acs-content-sha256") {
        ASSERT_EQ(value, kEmptyBodySha256);
      } else {
        args.insert(args.end(), {"--header", absl::StrCat(header, "=", value)});
      }
    }
    const std::string secret = Str(*vector, "access_key_secret");
    const std::vector<std::string> argv = Command(secret, index++ % 2 == 0, name, args);

    const absl::StatusOr<CommandResult> result = RunCommand(argv);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->exit_status, 0) << Printable(argv) << "\n" << result->output;
    const google::protobuf::Struct json = JsonLine(result->output);
    const std::string authorization = Str(*vector, "authorization");
    EXPECT_EQ(Str(json, "signatureVersion"), "v3");
    EXPECT_EQ(Str(json, "canonical"), Str(*vector, "canonical_request"));
    EXPECT_EQ(Str(json, "stringToSign"), Str(*vector, "string_to_sign"));
    EXPECT_EQ(Str(json, "authorization"), authorization);
    EXPECT_EQ(absl::StrCat("Signature=", Str(json, "signature")),
              authorization.substr(authorization.rfind(',') + 1));
    // What goes on the wire carries the same signature.
    const std::map<std::string, std::string> sent = Pairs(json, "headers");
    EXPECT_EQ(sent.at("Authorization"), authorization);
    EXPECT_EQ(sent.at("Host"), Pairs(*vector, "headers").at("host"));
    EXPECT_THAT(result->output, Not(HasSubstr("note:")));
    EXPECT_THAT(result->output, Not(HasSubstr(secret)));
  }
}

TEST(CliSignVectors, SecretArgumentIsRefusedByTheBinary) {
  const absl::StatusOr<CommandResult> result = RunCommand(
      {OTAVERIFY_CLI_BIN, "sign", "--access_key_id", "id", "--access_key_secret", "hunter2"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_status, 2);
  EXPECT_THAT(result->output, HasSubstr("--access_key_secret_file"));
  EXPECT_THAT(result->output, Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace otaverify

// Differential test: our signer (SignRpcCall) against the official Alibaba Cloud Node SDK.
//
// sdk_signature_cases.js had the SDK sign a few thousand generated requests (fixed seed, plus
// fresh ones from a clock seed) and wrote every stage it produced; here each case is signed
// again by SignRpcCall and the canonical string, string to sign, signature and (V3)
// Authorization must be byte-identical. protocol.md §2–§5.
//
// The case file comes from the OTAVERIFY_INTEROP_SDK_CASES environment variable, set by ctest
// (tests/interop/CMakeLists.txt); the case generator runs as this test's fixture.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"
#include "service/credentials/credentials.h"

namespace otaverify {
namespace {

// Fewer cases than this means the generator is broken, not that we are right.
constexpr size_t kMinFixedSeedCases = 2000;
// Differing cases printed in full on failure; the next ones are listed by id.
constexpr int kCasesPrintedInFull = 10;
constexpr int kCasesListedById = 60;

struct SdkCase {
  std::string line;  // the JSON line, printed whole on a mismatch (fake keys only)
  std::string id;
  std::string set;  // "coverage", "fixed" or "fresh"
  std::string signature_version;
  std::string method;
  std::string host;
  std::string action;
  std::string api_version;
  std::string access_key_id;
  std::string access_key_secret;
  std::string security_token;
  std::string nonce;
  std::string timestamp;
  int64_t epoch_seconds = 0;
  Params params;
  // What the SDK produced.
  std::string canonical;
  std::string string_to_sign;
  std::string signature;
  std::string authorization;
};

struct CaseFile {
  std::string error;  // non-empty: the file is unusable
  std::string path;
  int64_t fixed_seed = 0;
  int64_t fresh_seed = 0;
  size_t declared_cases = 0;
  std::string sdk_versions;
  std::vector<SdkCase> cases;
};

using google::protobuf::Struct;
using google::protobuf::Value;

std::string StringField(const Struct &s, const std::string &name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? "" : it->second.string_value();
}

double NumberField(const Struct &s, const std::string &name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? -1 : it->second.number_value();
}

bool ParseCase(const std::string &line, const Struct &s, SdkCase *out, std::string *error) {
  out->line = line;
  out->id = StringField(s, "id");
  out->set = StringField(s, "set");
  out->signature_version = StringField(s, "signature_version");
  out->method = StringField(s, "method");
  out->host = StringField(s, "host");
  out->action = StringField(s, "action");
  out->api_version = StringField(s, "api_version");
  out->access_key_id = StringField(s, "access_key_id");
  out->access_key_secret = StringField(s, "access_key_secret");
  out->security_token = StringField(s, "security_token");
  out->nonce = StringField(s, "nonce");
  out->timestamp = StringField(s, "timestamp");
  out->epoch_seconds = static_cast<int64_t>(NumberField(s, "epoch_seconds"));
  auto params = s.fields().find("params");
  auto sdk = s.fields().find("sdk");
  if (out->id.empty() || params == s.fields().end() || sdk == s.fields().end() ||
      !sdk->second.has_struct_value()) {
    *error = "case without id, params or sdk";
    return false;
  }
  for (const Value &pair : params->second.list_value().values()) {
    const auto &items = pair.list_value().values();
    if (items.size() != 2) {
      *error = "a parameter is not a [name, value] pair";
      return false;
    }
    out->params.emplace_back(items[0].string_value(), items[1].string_value());
  }
  const Struct &stages = sdk->second.struct_value();
  out->canonical = StringField(stages, "canonical");
  out->string_to_sign = StringField(stages, "string_to_sign");
  out->signature = StringField(stages, "signature");
  out->authorization = StringField(stages, "authorization");
  if (out->canonical.empty() || out->string_to_sign.empty() || out->signature.empty()) {
    *error = "case with an empty SDK stage";
    return false;
  }
  return true;
}

CaseFile Load() {
  CaseFile file;
  const char *path = std::getenv("OTAVERIFY_INTEROP_SDK_CASES");
  if (path == nullptr || *path == '\0') {
    file.error =
        "OTAVERIFY_INTEROP_SDK_CASES is not set: run through ctest -L "
        "interop, which generates "
        "the case file first";
    return file;
  }
  file.path = path;
  std::ifstream in(path);
  if (!in) {
    file.error = absl::StrCat("cannot read ", path);
    return file;
  }
  std::string line;
  size_t line_number = 0;
  bool header_seen = false;
  while (std::getline(in, line)) {
    ++line_number;
    Struct s;
    const auto status = google::protobuf::util::JsonStringToMessage(line, &s);
    if (!status.ok()) {
      file.error = absl::StrCat(path, ":", line_number, ": not JSON: ", status.ToString());
      return file;
    }
    const std::string kind = StringField(s, "kind");
    if (kind == "header" && line_number == 1) {
      header_seen = true;
      file.fixed_seed = static_cast<int64_t>(NumberField(s, "fixed_seed"));
      file.fresh_seed = static_cast<int64_t>(NumberField(s, "fresh_seed"));
      file.declared_cases = static_cast<size_t>(NumberField(s, "case_count"));
      auto versions = s.fields().find("sdk_versions");
      if (versions != s.fields().end()) {
        const auto &fields = versions->second.struct_value().fields();
        const std::map<std::string, Value> sorted(fields.begin(), fields.end());
        for (const auto &[name, version] : sorted) {
          absl::StrAppend(&file.sdk_versions, file.sdk_versions.empty() ? "" : ", ", name, "@",
                          version.string_value());
        }
      }
      continue;
    }
    SdkCase c;
    std::string error;
    if (kind != "case" || !ParseCase(line, s, &c, &error)) {
      file.error = absl::StrCat(path, ":", line_number, ": ", error.empty() ? "bad kind" : error);
      return file;
    }
    file.cases.push_back(std::move(c));
  }
  if (!header_seen) file.error = absl::StrCat(path, ": no header line");
  return file;
}

const CaseFile &Cases() {
  static const CaseFile *const file = new CaseFile(Load());
  return *file;
}

// Signs `c` with SignRpcCall and returns one line per stage that differs from the SDK's.
std::vector<std::string> Differences(const SdkCase &c) {
  RpcCall call;
  call.action = c.action;
  call.version = c.api_version;
  call.params = c.params;
  call.method = c.method;
  Credentials credentials;
  credentials.access_key_id = c.access_key_id;
  credentials.access_key_secret = c.access_key_secret;
  credentials.security_token = c.security_token;
  std::vector<std::string> out;
  auto endpoint = ParseEndpoint(absl::StrCat("https://", c.host));
  if (!endpoint.ok()) {
    out.push_back(absl::StrCat("host: ", endpoint.status().ToString()));
    return out;
  }
  const SignatureVersion version =
      c.signature_version == "v3" ? SignatureVersion::kV3 : SignatureVersion::kV1;
  const SignedRequest ours = SignRpcCall(call, credentials, *endpoint, version,
                                         absl::FromUnixSeconds(c.epoch_seconds), c.nonce);
  auto compare = [&out](const char *stage, const std::string &sdk, const std::string &mine) {
    if (sdk != mine) {
      out.push_back(absl::StrCat(stage, " differs\n    sdk:  ", sdk, "\n    ours: ", mine));
    }
  };
  compare("timestamp", c.timestamp, FormatAliyunTime(absl::FromUnixSeconds(c.epoch_seconds)));
  compare(version == SignatureVersion::kV1 ? "canonical query" : "canonical request", c.canonical,
          ours.canonical);
  compare("string to sign", c.string_to_sign, ours.string_to_sign);
  compare("signature", c.signature, ours.signature);
  if (version == SignatureVersion::kV3) {
    compare("Authorization", c.authorization, ours.authorization);
  }
  return out;
}

// Checks every case of one signature version and wire method; prints what ran.
void ExpectAllMatch(const std::string &signature_version, const std::string &method) {
  const CaseFile &file = Cases();
  ASSERT_TRUE(file.error.empty()) << file.error;
  std::map<std::string, int> ran;  // by set and credentials kind
  int differing = 0;
  std::string more_ids;
  for (const SdkCase &c : file.cases) {
    if (c.signature_version != signature_version || c.method != method) continue;
    ++ran[absl::StrCat(c.set, c.security_token.empty() ? " ak" : " sts")];
    const std::vector<std::string> differences = Differences(c);
    if (differences.empty()) continue;
    if (++differing <= kCasesPrintedInFull) {
      std::string report = absl::StrCat("case ", c.id, " differs from the official SDK:\n");
      for (const std::string &d : differences) absl::StrAppend(&report, "  ", d, "\n");
      ADD_FAILURE() << report << "  whole case: " << c.line;
    } else if (differing <= kCasesListedById) {
      absl::StrAppend(&more_ids, " ", c.id);
    }
  }
  int total = 0;
  std::string summary;
  for (const auto &[kind, count] : ran) {
    total += count;
    absl::StrAppend(&summary, " ", kind, "=", count);
  }
  std::cout << signature_version << " " << method << ": " << total << " cases (fixed seed "
            << file.fixed_seed << ", fresh seed " << file.fresh_seed << ";" << summary << "), "
            << differing << " differ from the SDK (" << file.sdk_versions << ")\n";
  EXPECT_EQ(differing, 0) << (more_ids.empty() ? "" : "next differing cases:" + more_ids)
                          << "\nreproduce the fresh cases with OTAVERIFY_INTEROP_FRESH_SEED="
                          << file.fresh_seed << " ctest -L interop";
  // Every kind must actually have run, with and without a security token.
  EXPECT_GT(ran["fixed ak"], 0);
  EXPECT_GT(ran["fixed sts"], 0);
  EXPECT_GT(ran["fresh ak"] + ran["fresh sts"], 0);
}

TEST(SdkSignatureInterop, CaseFileHoldsEnoughCasesOfEveryKind) {
  const CaseFile &file = Cases();
  ASSERT_TRUE(file.error.empty()) << file.error;
  EXPECT_EQ(file.cases.size(), file.declared_cases) << "truncated case file " << file.path;
  std::map<std::string, size_t> by_kind;
  size_t fixed_seed_cases = 0;
  for (const SdkCase &c : file.cases) {
    if (c.set != "fresh") ++fixed_seed_cases;
    ++by_kind[absl::StrCat(c.signature_version, " ", c.method,
                           c.security_token.empty() ? " ak" : " sts")];
  }
  std::cout << file.cases.size() << " cases, " << fixed_seed_cases << " from fixed seed "
            << file.fixed_seed << ", " << file.cases.size() - fixed_seed_cases
            << " from fresh seed " << file.fresh_seed << "\n";
  EXPECT_GE(fixed_seed_cases, kMinFixedSeedCases);
  EXPECT_GE(file.cases.size() - fixed_seed_cases, 1u) << "no fresh cases";
  for (const char *kind : {"v1 GET ak", "v1 GET sts", "v1 POST ak", "v1 POST sts", "v3 POST ak",
                           "v3 POST sts", "v3 GET ak", "v3 GET sts"}) {
    EXPECT_GE(by_kind[kind], 50u) << "too few " << kind << " cases";
  }
}

TEST(SdkSignatureInterop, V1GetMatchesSdkAtEveryStage) { ExpectAllMatch("v1", "GET"); }

TEST(SdkSignatureInterop, V1PostMatchesSdkAtEveryStage) { ExpectAllMatch("v1", "POST"); }

TEST(SdkSignatureInterop, V3PostMatchesSdkAtEveryStage) { ExpectAllMatch("v3", "POST"); }

TEST(SdkSignatureInterop, V3GetMatchesSdkAtEveryStage) { ExpectAllMatch("v3", "GET"); }

}  // namespace
}  // namespace otaverify

// Every vector in tests/data/signature-vectors.json (produced by the official Alibaba Cloud
// SDKs with pinned nonce and time), stage by stage: canonical string, string to sign,
// signature.
#include "service/aliyun/signer.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"

namespace otaverify {
namespace {

using google::protobuf::Struct;

Struct LoadVectors() {
  std::ifstream in(absl::StrCat(OTAVERIFY_TEST_DATA_DIR, "/signature-vectors.json"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  Struct vectors;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(buffer.str(), &vectors).ok());
  return vectors;
}

Params ToParams(const Struct& s) {
  Params out;
  for (const auto& [name, value] : s.fields()) out.emplace_back(name, value.string_value());
  return out;
}

RpcCall CreateCall(Params params) {
  RpcCall call;
  call.action = "CreateOTAVerifyJob";
  call.params = std::move(params);
  return call;
}

const std::string& Field(const Struct& s, const char* name) {
  return s.fields().at(name).string_value();
}

TEST(SignerV1, EveryOfficialVectorMatchesAtEveryStage) {
  const Struct vectors = LoadVectors();
  const auto& v1 = vectors.fields().at("v1").list_value().values();
  ASSERT_EQ(v1.size(), 4);
  for (const auto& item : v1) {
    const Struct& vec = item.struct_value();
    SCOPED_TRACE(Field(vec, "name"));
    const std::string canonical = CanonicalQuery(ToParams(vec.fields().at("params").struct_value()));
    EXPECT_EQ(canonical, Field(vec, "canonical_query"));
    const std::string string_to_sign = StringToSignV1(Field(vec, "method"), canonical);
    EXPECT_EQ(string_to_sign, Field(vec, "string_to_sign"));
    EXPECT_EQ(SignatureV1(Field(vec, "access_key_secret"), string_to_sign), Field(vec, "signature"));
  }
}

TEST(SignerV3, EveryOfficialVectorMatchesAtEveryStage) {
  const Struct vectors = LoadVectors();
  const auto& v3 = vectors.fields().at("v3").list_value().values();
  ASSERT_EQ(v3.size(), 3);
  for (const auto& item : v3) {
    const Struct& vec = item.struct_value();
    SCOPED_TRACE(Field(vec, "name"));
    const CanonicalRequestV3 canonical = BuildCanonicalRequestV3(
        Field(vec, "method"), CanonicalQuery(ToParams(vec.fields().at("query").struct_value())),
        ToParams(vec.fields().at("headers").struct_value()), Sha256Hex(Field(vec, "body")));
    EXPECT_EQ(canonical.canonical_request, Field(vec, "canonical_request"));
    const std::string string_to_sign = StringToSignV3(canonical.canonical_request);
    EXPECT_EQ(string_to_sign, Field(vec, "string_to_sign"));
    EXPECT_EQ(AuthorizationV3(Field(vec, "access_key_id"), canonical.signed_header_names,
                              SignatureV3(Field(vec, "access_key_secret"), string_to_sign)),
              Field(vec, "authorization"));
  }
}

TEST(PercentEncode, ReservedCharactersFollowRfc3986) {
  EXPECT_EQ(PercentEncode("a b*c~d/e+f=g"), "a%20b%2Ac~d%2Fe%2Bf%3Dg");
  EXPECT_EQ(PercentEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(PercentEncode("设"), "%E8%AE%BE");
  EXPECT_EQ(PercentEncode(std::string("\0\xff", 2)), "%00%FF");
}

TEST(PercentDecode, RoundTripsAndRejectsMalformedEscapes) {
  std::string out;
  ASSERT_TRUE(PercentDecode(PercentEncode("x y/设~*"), &out));
  EXPECT_EQ(out, "x y/设~*");
  EXPECT_FALSE(PercentDecode("%4", &out));
  EXPECT_FALSE(PercentDecode("%", &out));
  EXPECT_FALSE(PercentDecode("%zz", &out));
}

TEST(CanonicalQuery, SortsByRawNameBytewise) {
  EXPECT_EQ(CanonicalQuery({{"TargetDeviceName.2", "b"},
                            {"TargetDeviceName.10", "c"},
                            {"TargetDeviceName.1", "a"}}),
            "TargetDeviceName.1=a&TargetDeviceName.10=c&TargetDeviceName.2=b");
}

// The request builder must reproduce the official SDK's CreateOTAVerifyJob request exactly
// (vector "CreateOTAVerifyJob with tags and devices POST").
TEST(BuildSignedRequest, V1MatchesOfficialVector) {
  RpcCall call = CreateCall({{"FirmwareId", "UfuxnwygsuSkVE0VCNkg0100"},
                {"ProductKey", "a1Ww7Kp1vCx"},
                {"IotInstanceId", "iot-060a0xyz"},
                {"TimeoutInMinutes", "60"},
                {"NeedPush", "true"},
                {"NeedConfirm", "false"},
                {"DownloadProtocol", "HTTPS"},
                {"Tag.1.Key", "env"},
                {"Tag.1.Value", "test"},
                {"Tag.2.Key", "batch"},
                {"Tag.2.Value", "2024Q2"},
                {"TargetDeviceName.1", "dev-001"},
                {"TargetDeviceName.2", "dev-002"},
                {"TargetDeviceName.3", "dev_003"}});
  Credentials creds{"testid", "testsecret", "", absl::InfiniteFuture(), "test"};
  absl::Time now;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2024-05-20T08:30:00Z", &now, nullptr));
  const HttpRequest request =
      BuildSignedRequest(call, creds, *ParseEndpoint("https://iot.cn-shanghai.aliyuncs.com"),
                         SignatureVersion::kV1, now, "5b3c1c6a-1d8e-4b7e-9a2f-0c6d3e1f2a4b");
  EXPECT_EQ(request.method, "POST");
  EXPECT_THAT(request.url, ::testing::StartsWith("https://iot.cn-shanghai.aliyuncs.com/?"));
  EXPECT_THAT(request.url, ::testing::HasSubstr("&Signature=OSdRZ6y7rxTUtPDZ46qER6aukSg%3D"));
  EXPECT_THAT(request.url, ::testing::HasSubstr("Timestamp=2024-05-20T08%3A30%3A00Z"));
  EXPECT_TRUE(request.body.empty());
}

// Vector "CreateOTAVerifyJob minimal header set".
TEST(BuildSignedRequest, V3MatchesOfficialVector) {
  RpcCall call = CreateCall({{"FirmwareId", "UfuxnwygsuSkVE0VCNkg0100"},
                {"ProductKey", "a1Ww7Kp1vCx"},
                {"TargetDeviceName.1", "dev-001"},
                {"TimeoutInMinutes", "60"}});
  Credentials creds{"testid", "testsecret", "", absl::InfiniteFuture(), "test"};
  absl::Time now;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2024-05-20T08:34:00Z", &now, nullptr));
  const HttpRequest request =
      BuildSignedRequest(call, creds, *ParseEndpoint("https://iot.cn-shanghai.aliyuncs.com/"),
                         SignatureVersion::kV3, now, "3c2b1a09-8f7e-4d6c-9b5a-0123456789ab");
  EXPECT_THAT(request.headers,
              ::testing::Contains(::testing::Pair(
                  "Authorization",
                  "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;"
                  "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
                  "Signature=ee7c5d66c38965dfd275c8d09ed0bab903a706fdd1ffe4c89b0fc54504fd202e")));
  EXPECT_THAT(request.headers,
              ::testing::Contains(::testing::Pair("Host", "iot.cn-shanghai.aliyuncs.com")));
  EXPECT_EQ(request.url,
            "https://iot.cn-shanghai.aliyuncs.com/?FirmwareId=UfuxnwygsuSkVE0VCNkg0100&"
            "ProductKey=a1Ww7Kp1vCx&TargetDeviceName.1=dev-001&TimeoutInMinutes=60");
}

TEST(BuildSignedRequest, SecurityTokenIsSignedInBothVersions) {
  RpcCall call = CreateCall({{"FirmwareId", "f"}});
  Credentials creds{"id", "secret", "tok/en+", absl::InfiniteFuture(), "test"};
  const Endpoint endpoint = *ParseEndpoint("http://127.0.0.1:1");
  const HttpRequest v1 = BuildSignedRequest(call, creds, endpoint, SignatureVersion::kV1,
                                            absl::UnixEpoch(), "n");
  EXPECT_THAT(v1.url, ::testing::HasSubstr("SecurityToken=tok%2Fen%2B"));
  const HttpRequest v3 = BuildSignedRequest(call, creds, endpoint, SignatureVersion::kV3,
                                            absl::UnixEpoch(), "n");
  EXPECT_THAT(v3.headers, ::testing::Contains(::testing::Pair("x-acs-security-token", "tok/en+")));
  EXPECT_THAT(v3.headers, ::testing::Contains(::testing::Pair(
                              "Authorization", ::testing::HasSubstr("x-acs-security-token"))));
}

TEST(ParseEndpoint, AcceptsSchemeHostPortOnly) {
  EXPECT_TRUE(ParseEndpoint("https://iot.cn-shanghai.aliyuncs.com").ok());
  const Endpoint local = *ParseEndpoint("http://127.0.0.1:18080/");
  EXPECT_FALSE(local.secure);
  EXPECT_EQ(local.host, "127.0.0.1:18080");
  EXPECT_EQ(ParseEndpoint("ftp://x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEndpoint("https://x/path").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEndpoint("https://").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEndpoint("https://u@x").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace otaverify

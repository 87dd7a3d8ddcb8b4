// The emulator's gateway layer: V1/V3 signature checks, timestamps, nonces, keys, tokens and
// response formats, driven over loopback HTTP with requests from the gateway's own builder.
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "service/common/clock.h"
#include "emulator/emulator_server.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"
#include "service/aliyun/signer.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());

RpcCall CreateJobCall() {
  RpcCall call;
  call.action = "CreateOTAVerifyJob";
  call.params = {{"FirmwareId", "demo-firmware-1"},
                 {"ProductKey", "a1DemoProduct"},
                 {"TargetDeviceName.1", "demo-device-1"}};
  return call;
}

class EmulatorSignature : public ::testing::Test {
 protected:
  void StartServer(std::string security_token = "") {
    EmulatorOptions options;
    options.seed = DemoSeed();
    options.worker_threads = 8;
    options.access_key.security_token = std::move(security_token);
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }
  void SetUp() override { StartServer(); }

  // Sends and parses; fails the test on a transport error or non-JSON body.
  google::protobuf::Struct SendJson(const HttpRequest& request, int expected_status) {
    absl::StatusOr<TestReply> reply = client_->Send(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return {};
    EXPECT_EQ(reply->status, expected_status) << reply->body;
    absl::StatusOr<google::protobuf::Struct> json = TestClient::ParseJson(reply->body);
    EXPECT_TRUE(json.ok()) << json.status();
    return json.ok() ? *json : google::protobuf::Struct();
  }

  HttpRequest Build(SignatureVersion version, absl::Time now, absl::string_view nonce,
                    const Credentials& credentials = TestClient::DefaultCredentials()) {
    return BuildSignedRequest(CreateJobCall(), credentials, client_->endpoint(), version, now,
                              nonce);
  }

  // A V1 request signed by hand from `params` (all common parameters included by the caller).
  HttpRequest ManualV1(Params params, absl::string_view secret = "emulator-access-key-secret") {
    const std::string string_to_sign = StringToSignV1("POST", CanonicalQuery(params));
    params.emplace_back("Signature", SignatureV1(secret, string_to_sign));
    HttpRequest request;
    request.method = "POST";
    request.url = "/?";
    for (const auto& [name, value] : params) {
      absl::StrAppend(&request.url, PercentEncode(name), "=", PercentEncode(value), "&");
    }
    request.headers = {{"Host", client_->endpoint().host}};
    return request;
  }

  Params CommonV1(absl::string_view nonce) {
    return {{"Action", "CreateOTAVerifyJob"},
            {"Version", "2018-01-20"},
            {"AccessKeyId", "emulator-access-key-id"},
            {"SignatureMethod", "HMAC-SHA1"},
            {"SignatureVersion", "1.0"},
            {"SignatureNonce", std::string(nonce)},
            {"Timestamp", FormatAliyunTime(kNow)},
            {"FirmwareId", "demo-firmware-1"},
            {"ProductKey", "a1DemoProduct"},
            {"TargetDeviceName.1", "demo-device-1"}};
  }

  static std::string Str(const google::protobuf::Struct& s, const std::string& key) {
    auto it = s.fields().find(key);
    return it == s.fields().end() ? "<absent>" : it->second.string_value();
  }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
  std::unique_ptr<TestClient> client_;
};

TEST_F(EmulatorSignature, V1SignedRequestSucceeds) {
  const auto json = SendJson(Build(SignatureVersion::kV1, kNow, "nonce-1"), 200);
  EXPECT_TRUE(json.fields().at("Success").bool_value());
  const auto& data = json.fields().at("Data").struct_value();
  EXPECT_EQ(Str(data, "JobId").size(), 26u);
  EXPECT_EQ(Str(data, "UtcCreate"), "2024-05-20T08:30:00.000Z");
  EXPECT_EQ(Str(json, "RequestId").size(), 36u);
}

TEST_F(EmulatorSignature, V3SignedRequestSucceeds) {
  const auto json = SendJson(Build(SignatureVersion::kV3, kNow, "nonce-1"), 200);
  EXPECT_TRUE(json.fields().at("Success").bool_value());
}

TEST_F(EmulatorSignature, V1RejectsFlippedSignatureByte) {
  HttpRequest request = Build(SignatureVersion::kV1, kNow, "nonce-1");
  const size_t at = request.url.find("&Signature=");
  ASSERT_NE(at, std::string::npos);
  char& c = request.url[at + 11];
  c = c == 'A' ? 'B' : 'A';
  const auto json = SendJson(request, 400);
  EXPECT_EQ(Str(json, "Code"), "SignatureDoesNotMatch");
  EXPECT_THAT(Str(json, "Message"),
              HasSubstr("server string to sign is:POST&%2F&AccessKeyId%3Demulator-access-key-id"));
  EXPECT_EQ(Str(json, "Recommend"), "https://api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch");
  EXPECT_EQ(Str(json, "HostId"), client_->endpoint().host);
}

TEST_F(EmulatorSignature, V3RejectsFlippedSignatureByte) {
  HttpRequest request = Build(SignatureVersion::kV3, kNow, "nonce-1");
  bool flipped = false;
  for (auto& [name, value] : request.headers) {
    if (name != "Authorization") continue;
    value.back() = value.back() == '0' ? '1' : '0';
    flipped = true;
  }
  ASSERT_TRUE(flipped);
  const auto json = SendJson(request, 400);
  EXPECT_EQ(Str(json, "Code"), "SignatureDoesNotMatch");
  EXPECT_THAT(Str(json, "Message"), HasSubstr("server string to sign is:ACS3-HMAC-SHA256\n"));
  EXPECT_THAT(Str(json, "Message"), HasSubstr("x-acs-action:CreateOTAVerifyJob\n"));
}

TEST_F(EmulatorSignature, V3RejectsBodyThatDoesNotMatchContentSha256) {
  HttpRequest request = Build(SignatureVersion::kV3, kNow, "nonce-1");
  request.body = "tampered";
  const auto json = SendJson(request, 400);
  EXPECT_EQ(Str(json, "Code"), "SignatureDoesNotMatch");
  EXPECT_THAT(Str(json, "Message"), HasSubstr("x-acs-content-sha256"));
}

TEST_F(EmulatorSignature, V1RejectsWrongSecret) {
  Credentials credentials = TestClient::DefaultCredentials();
  credentials.access_key_secret = "not-the-secret";
  const auto json = SendJson(Build(SignatureVersion::kV1, kNow, "nonce-1", credentials), 400);
  EXPECT_EQ(Str(json, "Code"), "SignatureDoesNotMatch");
}

TEST_F(EmulatorSignature, V1SignatureCoversTheWireMethod) {
  HttpRequest request = Build(SignatureVersion::kV1, kNow, "nonce-1");
  request.method = "GET";  // signed as POST
  const auto json = SendJson(request, 400);
  EXPECT_EQ(Str(json, "Code"), "SignatureDoesNotMatch");
  EXPECT_THAT(Str(json, "Message"), HasSubstr("server string to sign is:GET&%2F&"));
}

TEST_F(EmulatorSignature, V1AcceptsParametersInFormBody) {
  HttpRequest request = ManualV1(CommonV1("nonce-1"));
  request.body = request.url.substr(2);
  request.url = "/";
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  const absl::StatusOr<TestReply> reply = client_->Send(request);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200) << reply->body;
  EXPECT_THAT(reply->body, HasSubstr("<Success>true</Success>"));
}

TEST_F(EmulatorSignature, ReplayedNonceIsSignatureNonceUsed) {
  SendJson(Build(SignatureVersion::kV1, kNow, "nonce-1"), 200);
  const auto json = SendJson(Build(SignatureVersion::kV1, kNow, "nonce-1"), 400);
  EXPECT_EQ(Str(json, "Code"), "SignatureNonceUsed");
  const auto v3 = SendJson(Build(SignatureVersion::kV3, kNow, "nonce-1"), 400);
  EXPECT_EQ(Str(v3, "Code"), "SignatureNonceUsed");
}

TEST_F(EmulatorSignature, NonceOfFailedSignatureIsNotBurned) {
  HttpRequest bad = Build(SignatureVersion::kV3, kNow, "nonce-1");
  bad.body = "x";
  SendJson(bad, 400);
  SendJson(Build(SignatureVersion::kV3, kNow, "nonce-1"), 200);
}

TEST_F(EmulatorSignature, NonceIsForgottenAfterFifteenMinutes) {
  SendJson(Build(SignatureVersion::kV1, kNow, "nonce-1"), 200);
  clock_.Advance(absl::Minutes(16));
  RpcCall call = CreateJobCall();
  call.params[0].second = "demo-firmware-2";
  const auto reply =
      client_->Call(call, SignatureVersion::kV1, kNow + absl::Minutes(16), "nonce-1");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200) << reply->body;
}

TEST_F(EmulatorSignature, StaleTimestampIsExpired) {
  const auto json = SendJson(Build(SignatureVersion::kV1, kNow - absl::Minutes(16), "n1"), 400);
  EXPECT_EQ(Str(json, "Code"), "InvalidTimeStamp.Expired");
  const auto future = SendJson(Build(SignatureVersion::kV3, kNow + absl::Minutes(16), "n2"), 400);
  EXPECT_EQ(Str(future, "Code"), "InvalidTimeStamp.Expired");
}

TEST_F(EmulatorSignature, TimestampWithinFifteenMinutesIsAccepted) {
  SendJson(Build(SignatureVersion::kV1, kNow - absl::Minutes(14), "n1"), 200);
}

TEST_F(EmulatorSignature, MalformedTimestampIsFormatError) {
  Params params = CommonV1("nonce-1");
  for (auto& p : params) {
    if (p.first == "Timestamp") p.second = "2024-05-20 08:30:00";
  }
  params.emplace_back("Format", "JSON");
  const auto json = SendJson(ManualV1(params), 400);
  EXPECT_EQ(Str(json, "Code"), "InvalidTimeStamp.Format");
}

TEST_F(EmulatorSignature, UnknownAccessKeyIsNotFound) {
  Credentials credentials = TestClient::DefaultCredentials();
  credentials.access_key_id = "someone-else";
  const auto json = SendJson(Build(SignatureVersion::kV3, kNow, "nonce-1", credentials), 404);
  EXPECT_EQ(Str(json, "Code"), "InvalidAccessKeyId.NotFound");
}

TEST_F(EmulatorSignature, MissingCommonParameterIsNamed) {
  Params params = CommonV1("unused");
  params.erase(params.begin() + 5);  // SignatureNonce
  params.emplace_back("Format", "JSON");
  const auto json = SendJson(ManualV1(params), 400);
  EXPECT_EQ(Str(json, "Code"), "MissingSignatureNonce");
  EXPECT_THAT(Str(json, "Message"), HasSubstr("\"SignatureNonce\""));
}

TEST_F(EmulatorSignature, UnsignedRequestIsIncompleteSignature) {
  HttpRequest request;
  request.url = "/?Action=CreateOTAVerifyJob&Format=JSON";
  const auto json = SendJson(request, 400);
  EXPECT_EQ(Str(json, "Code"), "IncompleteSignature");
}

TEST_F(EmulatorSignature, WrongVersionIsInvalidVersion) {
  RpcCall call = CreateJobCall();
  call.version = "2017-04-20";
  const auto reply = client_->Call(call, SignatureVersion::kV3, kNow, "nonce-1");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 400);
  EXPECT_THAT(reply->body, HasSubstr("\"Code\":\"InvalidVersion\""));
}

TEST_F(EmulatorSignature, UnknownActionIsNotFound) {
  RpcCall call = CreateJobCall();
  call.action = "DeleteEverything";
  const auto reply = client_->Call(call, SignatureVersion::kV1, kNow, "nonce-1");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 404);
  EXPECT_THAT(reply->body, HasSubstr("\"Code\":\"InvalidAction.NotFound\""));
}

TEST_F(EmulatorSignature, V1WithoutFormatAnswersXml) {
  const absl::StatusOr<TestReply> reply = client_->Send(ManualV1(CommonV1("nonce-1")));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200);
  EXPECT_THAT(reply->content_type, StartsWith("text/xml"));
  EXPECT_THAT(reply->body, StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                                      "<CreateOTAVerifyJobResponse><RequestId>"));
  EXPECT_THAT(reply->body, HasSubstr("<Success>true</Success><Data><JobId>"));
}

TEST_F(EmulatorSignature, V1XmlErrorIsEscapedErrorElement) {
  const absl::StatusOr<TestReply> reply =
      client_->Send(ManualV1(CommonV1("nonce-1"), "wrong-secret"));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 400);
  EXPECT_THAT(reply->body, HasSubstr("<Error><RequestId>"));
  EXPECT_THAT(reply->body, HasSubstr("<Code>SignatureDoesNotMatch</Code>"));
  EXPECT_THAT(reply->body, HasSubstr("POST&amp;%2F&amp;"));
}

TEST_F(EmulatorSignature, ConfiguredSecurityTokenIsRequired) {
  server_.reset();
  StartServer("sts-token");
  Credentials credentials = TestClient::DefaultCredentials();
  const auto missing = SendJson(Build(SignatureVersion::kV1, kNow, "n1", credentials), 400);
  EXPECT_EQ(Str(missing, "Code"), "MissingSecurityToken");
  credentials.security_token = "other-token";
  const auto wrong = SendJson(Build(SignatureVersion::kV3, kNow, "n2", credentials), 400);
  EXPECT_EQ(Str(wrong, "Code"), "InvalidSecurityToken.MismatchWithAccessKey");
  credentials.security_token = "sts-token";
  SendJson(Build(SignatureVersion::kV1, kNow, "n3", credentials), 200);
  RpcCall call = CreateJobCall();
  call.params[0].second = "demo-firmware-2";
  const auto v3 = client_->Call(call, SignatureVersion::kV3, kNow, "n4", credentials);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->status, 200) << v3->body;
}

TEST_F(EmulatorSignature, GarbageNeverCrashesAndGetsGatewayError) {
  const std::string targets[] = {
      "/?%",
      "/?%G1=x",
      "/?a=%zz",
      "/?Signature",
      "/?Signature=&Format=JSON",
      "/?&&&=&=",
      "/?Action=%00",
      "/?Format=JSON&Signature=x&Timestamp=%FF%FE",
      "/?Format=JSON&Signature=x&Action=CreateOTAVerifyJob&Version=2018-01-20&AccessKeyId="
      "emulator-access-key-id&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&SignatureNonce=1&"
      "Timestamp=9999-99-99T99:99:99Z",
      absl::StrCat("/?Format=JSON&Signature=x&Action=", std::string(6000, 'A')),
  };
  for (const std::string& target : targets) {
    HttpRequest request;
    request.url = target;
    const absl::StatusOr<TestReply> reply = client_->Send(request);
    ASSERT_TRUE(reply.ok()) << target;
    EXPECT_GE(reply->status, 400) << target;
    EXPECT_LT(reply->status, 500) << target;
  }
  HttpRequest bad_v3;
  bad_v3.headers = {{"Authorization", "ACS3-HMAC-SHA256 Credential"}, {"x-acs-date", "\x01\x02"}};
  bad_v3.url = "/";
  const auto json = SendJson(bad_v3, 400);
  EXPECT_EQ(Str(json, "Code"), "IncompleteSignature");
  SendJson(Build(SignatureVersion::kV1, kNow, "after-garbage"), 200);
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify

// The emulator's fake STS: AssumeRoleWithOIDC (unsigned) and AssumeRole (signed), their
// parameter checks and errors, throttling through the fault hook, the stats, and the issued
// credentials' acceptance by the IoT API until they expire. Loopback HTTP, ManualClock.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "emulator/emulator_server.h"
#include "emulator/issued_credentials.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"
#include "service/aliyun/signer.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());
constexpr char kRoleArn[] = "acs:ram::1234567890123456:role/emulator-role";
constexpr char kProviderArn[] = "acs:ram::1234567890123456:oidc-provider/emulator-oidc-provider";

std::string Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string Field(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "<absent>" : it->second.string_value();
}

const google::protobuf::Struct& Obj(const google::protobuf::Struct& s, const std::string& key) {
  static const google::protobuf::Struct* const kEmpty = new google::protobuf::Struct();
  auto it = s.fields().find(key);
  return it == s.fields().end() ? *kEmpty : it->second.struct_value();
}

Params OidcParams() {
  return {{"RoleArn", kRoleArn},
          {"OIDCProviderArn", kProviderArn},
          {"OIDCToken", "emulator-oidc-token"},
          {"RoleSessionName", "otaverify-test"}};
}

// `params` without the one named `name`, or with its value replaced.
Params With(Params params, const std::string& name, std::optional<std::string> value) {
  Params out;
  for (auto& [n, v] : params) {
    if (n != name) out.emplace_back(n, v);
  }
  if (value) out.emplace_back(name, *value);
  return out;
}

std::string Query(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    absl::StrAppend(&out, out.empty() ? "" : "&", PercentEncode(name), "=", PercentEncode(value));
  }
  return out;
}

class EmulatorSts : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.seed = DemoSeed();
    options.worker_threads = 8;
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }

  TestReply Send(const HttpRequest& request) {
    absl::StatusOr<TestReply> reply = client_->Send(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : TestReply{};
  }

  // An unsigned AssumeRoleWithOIDC, every parameter in the query (as the official SDKs send
  // it), JSON unless `format` is empty.
  TestReply Oidc(const Params& params, const std::string& format = "JSON") {
    Params all = {{"Action", "AssumeRoleWithOIDC"}, {"Version", "2015-04-01"}};
    if (!format.empty()) all.emplace_back("Format", format);
    all.insert(all.end(), params.begin(), params.end());
    HttpRequest request;
    request.method = "POST";
    request.url = "/?" + Query(all);
    request.headers = {{"Host", client_->endpoint().host}};
    return Send(request);
  }

  google::protobuf::Struct Json(const TestReply& reply, int status) {
    EXPECT_EQ(reply.status, status) << reply.body;
    absl::StatusOr<google::protobuf::Struct> json = TestClient::ParseJson(reply.body);
    EXPECT_TRUE(json.ok()) << json.status();
    return json.ok() ? *json : google::protobuf::Struct();
  }

  // A signed AssumeRole at the emulator's current time.
  TestReply AssumeRole(const Params& params, SignatureVersion version, const std::string& nonce,
                       const Credentials& source = TestClient::DefaultCredentials()) {
    RpcCall call;
    call.action = "AssumeRole";
    call.version = "2015-04-01";
    call.params = params;
    return Send(
        BuildSignedRequest(call, source, client_->endpoint(), version, clock_.Now(), nonce));
  }

  static Params AssumeRoleParams() {
    return {{"RoleArn", kRoleArn}, {"RoleSessionName", "otaverify-test"}};
  }

  static Credentials FromSts(const google::protobuf::Struct& answer) {
    const google::protobuf::Struct& c = Obj(answer, "Credentials");
    Credentials credentials;
    credentials.access_key_id = Field(c, "AccessKeyId");
    credentials.access_key_secret = Field(c, "AccessKeySecret");
    credentials.security_token = Field(c, "SecurityToken");
    return credentials;
  }

  // CreateOTAVerifyJob signed with `credentials` at the emulator's current time.
  TestReply CreateJob(const Credentials& credentials, SignatureVersion version,
                      const std::string& nonce, const std::string& firmware) {
    RpcCall call;
    call.action = "CreateOTAVerifyJob";
    call.params = {{"FirmwareId", firmware},
                   {"ProductKey", "a1DemoProduct"},
                   {"TargetDeviceName.1", "demo-device-1"}};
    return Send(
        BuildSignedRequest(call, credentials, client_->endpoint(), version, clock_.Now(), nonce));
  }

  TestReply Hook(const std::string& method, const std::string& path, const std::string& body = "") {
    HttpRequest request;
    request.method = method;
    request.url = path;
    request.body = body;
    return Send(request);
  }

  StatsSnapshot Stats() { return server_->stats().Snapshot(); }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
  std::unique_ptr<TestClient> client_;
};

// --- AssumeRoleWithOIDC ----------------------------------------------------------------------

TEST_F(EmulatorSts, OidcIssuesCredentialsWithTheDocumentedShape) {
  const TestReply reply = Oidc(OidcParams());
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_THAT(reply.content_type, HasSubstr("application/json"));
  EXPECT_THAT(reply.body, StartsWith(R"({"RequestId":")"));
  const auto json = Json(reply, 200);
  const auto& credentials = Obj(json, "Credentials");
  EXPECT_THAT(Field(credentials, "AccessKeyId"), MatchesRegex(R"(STS\.[A-Za-z0-9]{28})"));
  EXPECT_EQ(Field(credentials, "AccessKeySecret").size(), 30u);
  EXPECT_THAT(Field(credentials, "SecurityToken"), StartsWith("CAIS"));
  EXPECT_EQ(Field(credentials, "Expiration"), Utc(kNow + absl::Seconds(3600)));  // default
  EXPECT_EQ(Field(Obj(json, "AssumedRoleUser"), "Arn"), absl::StrCat(kRoleArn, "/otaverify-test"));
  EXPECT_THAT(Field(Obj(json, "AssumedRoleUser"), "AssumedRoleId"), HasSubstr(":otaverify-test"));
  EXPECT_NE(Field(Obj(json, "OIDCTokenInfo"), "Subject"), "<absent>");
  EXPECT_NE(Field(Obj(json, "OIDCTokenInfo"), "Issuer"), "<absent>");

  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.sts_requests.at("AssumeRoleWithOIDC").at("success"), 1);
  EXPECT_EQ(stats.requests_by_action.at("AssumeRoleWithOIDC"), 1);
  EXPECT_EQ(stats.credentials_issued, 1);
  EXPECT_EQ(stats.credentials_issued_by_source.at("AssumeRoleWithOIDC"), 1);
}

TEST_F(EmulatorSts, OidcAcceptsParametersInAFormBody) {
  HttpRequest request;
  request.method = "POST";
  request.url = "/?Action=AssumeRoleWithOIDC&Version=2015-04-01&Format=JSON";
  request.headers = {{"Host", client_->endpoint().host},
                     {"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = Query(OidcParams());
  const auto json = Json(Send(request), 200);
  EXPECT_THAT(Field(Obj(json, "Credentials"), "AccessKeyId"), StartsWith("STS."));
}

TEST_F(EmulatorSts, OidcWithoutFormatJsonAnswersXml) {
  const TestReply reply = Oidc(OidcParams(), "");
  EXPECT_EQ(reply.status, 200);
  EXPECT_THAT(reply.content_type, HasSubstr("text/xml"));
  EXPECT_THAT(reply.body, HasSubstr("<AssumeRoleWithOIDCResponse><RequestId>"));
  EXPECT_THAT(reply.body, HasSubstr("<Credentials><AccessKeyId>STS."));
}

TEST_F(EmulatorSts, OidcHonoursDurationSecondsWithinTheRange) {
  const auto json = Json(Oidc(With(OidcParams(), "DurationSeconds", "900")), 200);
  EXPECT_EQ(Field(Obj(json, "Credentials"), "Expiration"), Utc(kNow + absl::Seconds(900)));
  for (const char* bad : {"899", "3601", "abc", "-1"}) {
    const auto error = Json(Oidc(With(OidcParams(), "DurationSeconds", bad)), 400);
    EXPECT_EQ(Field(error, "Code"), "InvalidParameter.DurationSeconds") << bad;
  }
}

TEST_F(EmulatorSts, LoweredMinimumAndDurationOverrideGiveShortLivedCredentials) {
  ASSERT_EQ(Hook("POST", "/_emulator/credentials", R"({"sts_min_duration_seconds":1})").status,
            200);
  auto json = Json(Oidc(With(OidcParams(), "DurationSeconds", "5")), 200);
  EXPECT_EQ(Field(Obj(json, "Credentials"), "Expiration"), Utc(kNow + absl::Seconds(5)));
  ASSERT_EQ(Hook("POST", "/_emulator/credentials", R"({"sts_duration_seconds":7})").status, 200);
  json = Json(Oidc(With(OidcParams(), "DurationSeconds", "3600")), 200);
  EXPECT_EQ(Field(Obj(json, "Credentials"), "Expiration"), Utc(kNow + absl::Seconds(7)));
  json = Json(Oidc(OidcParams()), 200);
  EXPECT_EQ(Field(Obj(json, "Credentials"), "Expiration"), Utc(kNow + absl::Seconds(7)));
}

TEST_F(EmulatorSts, OidcWithAWrongTokenIsAuthenticationFail) {
  const auto json = Json(Oidc(With(OidcParams(), "OIDCToken", "eyJ.wrong.token")), 401);
  EXPECT_EQ(Field(json, "Code"), "AuthenticationFail.OIDCToken.Invalid");
  EXPECT_EQ(Field(json, "HostId"), client_->endpoint().host);
  EXPECT_EQ(Field(json, "Recommend"),
            "https://api.aliyun.com/troubleshoot?q=AuthenticationFail.OIDCToken.Invalid");
  EXPECT_EQ(
      Stats().sts_requests.at("AssumeRoleWithOIDC").at("AuthenticationFail.OIDCToken.Invalid"), 1);
  EXPECT_EQ(Stats().credentials_issued, 0);
}

TEST_F(EmulatorSts, OidcWithUnknownProviderOrRoleIsRejected) {
  EXPECT_EQ(
      Field(Json(Oidc(With(OidcParams(), "OIDCProviderArn", "acs:ram::1:oidc-provider/x")), 401),
            "Code"),
      "AuthenticationFail.NoPermission");
  EXPECT_EQ(Field(Json(Oidc(With(OidcParams(), "RoleArn", "acs:ram::1:role/other")), 404), "Code"),
            "EntityNotExist.Role");
}

TEST_F(EmulatorSts, OidcMissingParametersAreMissingErrors) {
  for (const char* name : {"RoleArn", "OIDCProviderArn", "OIDCToken", "RoleSessionName"}) {
    const auto json = Json(Oidc(With(OidcParams(), name, std::nullopt)), 400);
    EXPECT_EQ(Field(json, "Code"), absl::StrCat("Missing", name));
    const auto empty = Json(Oidc(With(OidcParams(), name, "")), 400);
    EXPECT_EQ(Field(empty, "Code"), absl::StrCat("Missing", name));
  }
}

TEST_F(EmulatorSts, OidcRejectsAMalformedSessionName) {
  for (const std::string& bad :
       std::vector<std::string>{"x", "has space", "slash/no", std::string(65, 'a')}) {
    const auto json = Json(Oidc(With(OidcParams(), "RoleSessionName", bad)), 400);
    EXPECT_EQ(Field(json, "Code"), "InvalidParameter.RoleSessionName") << bad;
  }
}

TEST_F(EmulatorSts, ControlChangesTheExpectedTokenAndArns) {
  ASSERT_EQ(Hook("POST", "/_emulator/credentials",
                 R"({"oidc_token":"rotated-token","role_arn":"acs:ram::9:role/r",)"
                 R"("oidc_provider_arn":"acs:ram::9:oidc-provider/p"})")
                .status,
            200);
  EXPECT_EQ(Oidc(OidcParams()).status, 401);
  Params params = {{"RoleArn", "acs:ram::9:role/r"},
                   {"OIDCProviderArn", "acs:ram::9:oidc-provider/p"},
                   {"OIDCToken", "rotated-token"},
                   {"RoleSessionName", "s1"}};
  EXPECT_EQ(Oidc(params).status, 200);
  ASSERT_EQ(Hook("POST", "/_emulator/reset").status, 200);
  EXPECT_EQ(Oidc(OidcParams()).status, 200);
}

TEST_F(EmulatorSts, ThrottlingFaultFiltersByStsAction) {
  ASSERT_EQ(Hook("POST", "/_emulator/faults",
                 R"({"fault":"throttling","count":2,"action":"AssumeRoleWithOIDC"})")
                .status,
            200);
  EXPECT_EQ(AssumeRole(AssumeRoleParams(), SignatureVersion::kV1, "n1").status, 200);
  const auto throttled = Json(Oidc(OidcParams()), 400);
  EXPECT_EQ(Field(throttled, "Code"), "Throttling.User");
  EXPECT_EQ(Oidc(OidcParams()).status, 400);
  EXPECT_EQ(Oidc(OidcParams()).status, 200);
  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.sts_requests.at("AssumeRoleWithOIDC").at("fault:throttling"), 2);
  EXPECT_EQ(stats.sts_requests.at("AssumeRoleWithOIDC").at("success"), 1);
  EXPECT_EQ(stats.sts_requests.at("AssumeRole").at("success"), 1);
  EXPECT_EQ(stats.faults_injected.at("throttling"), 2);
  EXPECT_EQ(stats.credentials_issued, 2);
}

TEST_F(EmulatorSts, ThrottlingFaultForAssumeRole) {
  ASSERT_EQ(
      Hook("POST", "/_emulator/faults", R"({"fault":"throttling","action":"AssumeRole"})").status,
      200);
  EXPECT_EQ(Oidc(OidcParams()).status, 200);
  const auto throttled = Json(AssumeRole(AssumeRoleParams(), SignatureVersion::kV1, "n1"), 400);
  EXPECT_EQ(Field(throttled, "Code"), "Throttling.User");
  EXPECT_EQ(AssumeRole(AssumeRoleParams(), SignatureVersion::kV1, "n2").status, 200);
}

TEST_F(EmulatorSts, UnknownStsActionIsNotFound) {
  HttpRequest request;
  request.url = "/?Action=GetCallerIdentity&Version=2015-04-01&Format=JSON";
  const auto json = Json(Send(request), 404);
  EXPECT_EQ(Field(json, "Code"), "InvalidAction.NotFound");
}

// --- AssumeRole ------------------------------------------------------------------------------

TEST_F(EmulatorSts, SignedAssumeRoleIssuesCredentialsV1AndV3) {
  Params params = AssumeRoleParams();
  params.emplace_back("ExternalId", "abcd1234");
  params.emplace_back("Policy", R"({"Version":"1","Statement":[]})");
  params.emplace_back("DurationSeconds", "1800");
  for (SignatureVersion version : {SignatureVersion::kV1, SignatureVersion::kV3}) {
    const auto json =
        Json(AssumeRole(params, version, absl::StrCat("n", static_cast<int>(version))), 200);
    EXPECT_THAT(Field(Obj(json, "Credentials"), "AccessKeyId"), StartsWith("STS."));
    EXPECT_EQ(Field(Obj(json, "Credentials"), "Expiration"), Utc(kNow + absl::Seconds(1800)));
    EXPECT_EQ(Field(Obj(json, "AssumedRoleUser"), "Arn"),
              absl::StrCat(kRoleArn, "/otaverify-test"));
    EXPECT_EQ(json.fields().count("OIDCTokenInfo"), 0u);
  }
  EXPECT_EQ(Stats().credentials_issued_by_source.at("AssumeRole"), 2);
}

TEST_F(EmulatorSts, AssumeRoleWithABadSignatureIsSignatureDoesNotMatch) {
  Credentials wrong = TestClient::DefaultCredentials();
  wrong.access_key_secret = "not-the-secret";
  const auto json = Json(AssumeRole(AssumeRoleParams(), SignatureVersion::kV1, "n1", wrong), 400);
  EXPECT_EQ(Field(json, "Code"), "SignatureDoesNotMatch");
  EXPECT_THAT(Field(json, "Message"), HasSubstr("Action%3DAssumeRole"));
  EXPECT_EQ(Stats().sts_requests.at("AssumeRole").at("SignatureDoesNotMatch"), 1);
}

TEST_F(EmulatorSts, AssumeRoleWithAReplayedNonceIsSignatureNonceUsed) {
  EXPECT_EQ(AssumeRole(AssumeRoleParams(), SignatureVersion::kV1, "same").status, 200);
  const auto json = Json(AssumeRole(AssumeRoleParams(), SignatureVersion::kV1, "same"), 400);
  EXPECT_EQ(Field(json, "Code"), "SignatureNonceUsed");
  EXPECT_EQ(Stats().credentials_issued, 1);
}

TEST_F(EmulatorSts, AssumeRoleGatewayChecks) {
  Credentials unknown = TestClient::DefaultCredentials();
  unknown.access_key_id = "LTAIunknown";
  EXPECT_EQ(Field(Json(AssumeRole(AssumeRoleParams(), SignatureVersion::kV1, "n1", unknown), 404),
                  "Code"),
            "InvalidAccessKeyId.NotFound");
  clock_.Advance(absl::Minutes(16));
  RpcCall call;
  call.action = "AssumeRole";
  call.version = "2015-04-01";
  call.params = AssumeRoleParams();
  const HttpRequest stale =
      BuildSignedRequest(call, TestClient::DefaultCredentials(), client_->endpoint(),
                         SignatureVersion::kV1, kNow, "n2");
  EXPECT_EQ(Field(Json(Send(stale), 400), "Code"), "InvalidTimeStamp.Expired");
  // Unsigned: AssumeRole is not AssumeRoleWithOIDC.
  HttpRequest unsigned_request;
  unsigned_request.url =
      "/?Action=AssumeRole&Version=2015-04-01&Format=JSON&" + Query(AssumeRoleParams());
  EXPECT_EQ(Field(Json(Send(unsigned_request), 400), "Code"), "IncompleteSignature");
}

TEST_F(EmulatorSts, AssumeRoleParameterChecks) {
  EXPECT_EQ(Field(Json(AssumeRole(With(AssumeRoleParams(), "RoleArn", std::nullopt),
                                  SignatureVersion::kV1, "n1"),
                       400),
                  "Code"),
            "MissingRoleArn");
  EXPECT_EQ(Field(Json(AssumeRole(With(AssumeRoleParams(), "RoleSessionName", std::nullopt),
                                  SignatureVersion::kV3, "n2"),
                       400),
                  "Code"),
            "MissingRoleSessionName");
  EXPECT_EQ(Field(Json(AssumeRole(With(AssumeRoleParams(), "RoleArn", "acs:ram::1:role/nope"),
                                  SignatureVersion::kV1, "n3"),
                       404),
                  "Code"),
            "EntityNotExist.Role");
  EXPECT_EQ(Field(Json(AssumeRole(With(AssumeRoleParams(), "DurationSeconds", "60"),
                                  SignatureVersion::kV1, "n4"),
                       400),
                  "Code"),
            "InvalidParameter.DurationSeconds");
}

TEST_F(EmulatorSts, AssumeRoleAcceptsIssuedStsCredentialsAsTheSource) {
  const Credentials oidc = FromSts(Json(Oidc(OidcParams()), 200));
  const auto chained = Json(AssumeRole(AssumeRoleParams(), SignatureVersion::kV1, "n1", oidc), 200);
  EXPECT_NE(Field(Obj(chained, "Credentials"), "AccessKeyId"), oidc.access_key_id);
}

// --- Issued credentials at the IoT API ------------------------------------------------------

TEST_F(EmulatorSts, OidcCredentialsWorkUntilExpiryThenAreExpiredV1AndV3) {
  const Credentials credentials = FromSts(Json(Oidc(OidcParams()), 200));
  EXPECT_EQ(CreateJob(credentials, SignatureVersion::kV1, "n1", "demo-firmware-1").status, 200);
  EXPECT_EQ(CreateJob(credentials, SignatureVersion::kV3, "n2", "demo-firmware-2").status, 200);
  clock_.Advance(absl::Seconds(3599));
  EXPECT_EQ(CreateJob(credentials, SignatureVersion::kV3, "n3", "demo-firmware-3").status, 200);
  clock_.Advance(absl::Seconds(1));
  for (SignatureVersion version : {SignatureVersion::kV1, SignatureVersion::kV3}) {
    const auto json =
        Json(CreateJob(credentials, version, absl::StrCat("late", static_cast<int>(version)),
                       "demo-firmware-4"),
             400);
    EXPECT_EQ(Field(json, "Code"), "InvalidSecurityToken.Expired");
    EXPECT_EQ(Field(json, "HostId"), client_->endpoint().host);
    EXPECT_EQ(Field(json, "Recommend"),
              "https://api.aliyun.com/troubleshoot?q=InvalidSecurityToken.Expired");
  }
  EXPECT_EQ(Stats().requests_by_outcome.at("InvalidSecurityToken.Expired"), 2);
}

TEST_F(EmulatorSts, AssumeRoleCredentialsWorkUntilExpiryThenAreExpired) {
  ASSERT_EQ(Hook("POST", "/_emulator/credentials", R"({"sts_min_duration_seconds":1})").status,
            200);
  const Credentials credentials = FromSts(Json(
      AssumeRole(With(AssumeRoleParams(), "DurationSeconds", "2"), SignatureVersion::kV1, "n0"),
      200));
  EXPECT_EQ(CreateJob(credentials, SignatureVersion::kV1, "n1", "demo-firmware-1").status, 200);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Field(Json(CreateJob(credentials, SignatureVersion::kV1, "n2", "demo-firmware-2"), 400),
                  "Code"),
            "InvalidSecurityToken.Expired");
}

TEST_F(EmulatorSts, IssuedCredentialsWithAnotherTokenOrUnknownKeyAreRejected) {
  const Credentials first = FromSts(Json(Oidc(OidcParams()), 200));
  const Credentials second = FromSts(Json(Oidc(OidcParams()), 200));
  Credentials mixed = first;
  mixed.security_token = second.security_token;
  EXPECT_EQ(
      Field(Json(CreateJob(mixed, SignatureVersion::kV1, "n1", "demo-firmware-1"), 400), "Code"),
      "InvalidSecurityToken.MismatchWithAccessKey");
  Credentials unknown = first;
  unknown.access_key_id = "STS.NeverIssued";
  EXPECT_EQ(
      Field(Json(CreateJob(unknown, SignatureVersion::kV3, "n2", "demo-firmware-1"), 404), "Code"),
      "InvalidAccessKeyId.NotFound");
  Credentials wrong_secret = first;
  wrong_secret.access_key_secret = second.access_key_secret;
  EXPECT_EQ(
      Field(Json(CreateJob(wrong_secret, SignatureVersion::kV3, "n3", "demo-firmware-1"), 400),
            "Code"),
      "SignatureDoesNotMatch");
}

TEST_F(EmulatorSts, ResetForgetsIssuedCredentials) {
  const Credentials credentials = FromSts(Json(Oidc(OidcParams()), 200));
  ASSERT_EQ(Hook("POST", "/_emulator/reset").status, 200);
  EXPECT_EQ(Field(Json(CreateJob(credentials, SignatureVersion::kV3, "n1", "demo-firmware-1"), 404),
                  "Code"),
            "InvalidAccessKeyId.NotFound");
  EXPECT_EQ(Stats().credentials_issued, 0);
  EXPECT_TRUE(Stats().sts_requests.empty());
}

TEST_F(EmulatorSts, StatsJsonNestsStsRequestsByActionAndOutcome) {
  Oidc(OidcParams());
  Oidc(With(OidcParams(), "OIDCToken", "bad-token"));
  AssumeRole(AssumeRoleParams(), SignatureVersion::kV1, "n1");
  EXPECT_THAT(
      Hook("GET", "/_emulator/stats").body,
      HasSubstr(R"("sts_requests":{"AssumeRole":{"success":1},)"
                R"("AssumeRoleWithOIDC":{"AuthenticationFail.OIDCToken.Invalid":1,"success":1}},)"
                R"("credentials_issued":2,)"
                R"("credentials_issued_by_source":{"AssumeRole":1,"AssumeRoleWithOIDC":1}})"));
}

// --- The store alone -------------------------------------------------------------------------

TEST(EmulatorIssuedCredentialStore, PrunesCredentialsExpiredPastTheGrace) {
  IdGenerator ids;
  IssuedCredentialStore store(&ids);
  const IssuedCredential old = store.Issue(kNow, kNow + absl::Seconds(10));
  EXPECT_TRUE(store.Find(old.access_key_id).has_value());
  // Still remembered (so answered Expired) within the grace after expiry ...
  store.Issue(kNow + absl::Seconds(10) + IssuedCredentialStore::kGrace, kNow + absl::Hours(5));
  EXPECT_TRUE(store.Find(old.access_key_id).has_value());
  // ... and forgotten after it.
  store.Issue(kNow + absl::Seconds(11) + IssuedCredentialStore::kGrace, kNow + absl::Hours(5));
  EXPECT_FALSE(store.Find(old.access_key_id).has_value());
  EXPECT_EQ(store.size(), 2u);
}

TEST(EmulatorIssuedCredentialStore, IsBoundedDroppingTheFirstToExpire) {
  IdGenerator ids;
  IssuedCredentialStore store(&ids);
  const IssuedCredential soonest = store.Issue(kNow, kNow + absl::Seconds(1));
  for (size_t i = 0; i < IssuedCredentialStore::kMaxEntries + 10; ++i) {
    store.Issue(kNow, kNow + absl::Hours(1));
  }
  EXPECT_EQ(store.size(), IssuedCredentialStore::kMaxEntries);
  EXPECT_FALSE(store.Find(soonest.access_key_id).has_value());
}

TEST(EmulatorIssuedCredentialStore, ExpirationIsTruncatedToTheSecond) {
  IdGenerator ids;
  IssuedCredentialStore store(&ids);
  const IssuedCredential issued =
      store.Issue(kNow, kNow + absl::Seconds(60) + absl::Milliseconds(999));
  EXPECT_EQ(issued.expiration, kNow + absl::Seconds(60));
  EXPECT_EQ(FormatUtcSeconds(issued.expiration), "2024-05-20T08:31:00Z");
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify

// The emulator's fake ECS metadata service (IMDS): the hardened-mode token, the role name, the
// role's rotating STS credentials, the imds_* faults, the /_emulator/credentials control hook
// and the credentials' acceptance by the IoT API until they expire. Loopback HTTP, ManualClock.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "emulator/emulator_server.h"
#include "emulator/fault_injector.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());
constexpr char kCredentialsPath[] = "/latest/meta-data/ram/security-credentials/";
constexpr char kRolePath[] = "/latest/meta-data/ram/security-credentials/EmulatorEcsRole";

std::string Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string Field(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "<absent>" : it->second.string_value();
}

class EmulatorImds : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(CredentialSettings()); }

  void StartServer(CredentialSettings settings) {
    client_.reset();
    server_.reset();
    EmulatorOptions options;
    options.seed = DemoSeed();
    options.worker_threads = 8;
    options.credentials = std::move(settings);
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }

  TestReply Send(const std::string& method, const std::string& path, HttpHeaders headers = {},
                 const std::string& body = "") {
    HttpRequest request;
    request.method = method;
    request.url = path;
    request.headers = std::move(headers);
    request.body = body;
    absl::StatusOr<TestReply> reply = client_->Send(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : TestReply{};
  }

  TestReply PutToken(std::optional<std::string> ttl) {
    HttpHeaders headers;
    if (ttl) headers.emplace_back("X-aliyun-ecs-metadata-token-ttl-seconds", *ttl);
    return Send("PUT", "/latest/api/token", headers);
  }

  std::string Token(int ttl_seconds = 60) {
    const TestReply reply = PutToken(absl::StrCat(ttl_seconds));
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.body;
  }

  TestReply Get(const std::string& path, std::optional<std::string> token = std::nullopt) {
    HttpHeaders headers;
    if (token) headers.emplace_back("X-aliyun-ecs-metadata-token", *token);
    return Send("GET", path, headers);
  }

  // GET of the role's credentials, expected to be a 200 JSON answer.
  google::protobuf::Struct Credentials(std::optional<std::string> token = std::nullopt) {
    const TestReply reply = Get(kRolePath, token);
    EXPECT_EQ(reply.status, 200) << reply.body;
    absl::StatusOr<google::protobuf::Struct> json = TestClient::ParseJson(reply.body);
    EXPECT_TRUE(json.ok()) << json.status();
    return json.ok() ? *json : google::protobuf::Struct();
  }

  TestReply Control(const std::string& body) {
    return Send("POST", "/_emulator/credentials", {{"Content-Type", "application/json"}}, body);
  }

  void Arm(const std::string& json) {
    const TestReply reply = Send("POST", "/_emulator/faults", {}, json);
    ASSERT_EQ(reply.status, 200) << reply.body;
  }

  // CreateOTAVerifyJob signed with the IMDS answer `creds` at the emulator's current time.
  TestReply CreateJobWith(const google::protobuf::Struct& creds, SignatureVersion version,
                          const std::string& nonce, const std::string& firmware,
                          std::optional<std::string> token_override = std::nullopt) {
    otaverify::Credentials credentials;
    credentials.access_key_id = Field(creds, "AccessKeyId");
    credentials.access_key_secret = Field(creds, "AccessKeySecret");
    credentials.security_token = token_override ? *token_override : Field(creds, "SecurityToken");
    RpcCall call;
    call.action = "CreateOTAVerifyJob";
    call.params = {{"FirmwareId", firmware},
                   {"ProductKey", "a1DemoProduct"},
                   {"TargetDeviceName.1", "demo-device-1"}};
    absl::StatusOr<TestReply> reply =
        client_->Call(call, version, clock_.Now(), nonce, credentials);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : TestReply{};
  }

  StatsSnapshot Stats() { return server_->stats().Snapshot(); }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
  std::unique_ptr<TestClient> client_;
};

// --- Token ------------------------------------------------------------------------------------

TEST_F(EmulatorImds, TokenPutAnswersAFreshRandomToken) {
  const TestReply first = PutToken("21600");
  const TestReply second = PutToken("1");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 200);
  EXPECT_THAT(first.content_type, StartsWith("text/plain"));
  EXPECT_EQ(first.body.size(), 56u);
  EXPECT_NE(first.body, second.body);
}

TEST_F(EmulatorImds, TokenPutWithoutAValidTtlIs400) {
  EXPECT_EQ(PutToken(std::nullopt).status, 400);
  for (const char* ttl : {"0", "21601", "-1", "abc", "", "60s"}) {
    EXPECT_EQ(PutToken(std::string(ttl)).status, 400) << ttl;
  }
}

TEST_F(EmulatorImds, TokenPathIsPutOnlyAndCredentialPathsAreGetOnly) {
  EXPECT_EQ(Get("/latest/api/token").status, 405);
  EXPECT_EQ(Send("PUT", kRolePath, {{"X-aliyun-ecs-metadata-token-ttl-seconds", "60"}}).status,
            405);
}

// curl -X PUT and libcurl's CUSTOMREQUEST send no Content-Length; httplib alone would wait for
// EOF and answer 400.
TEST_F(EmulatorImds, TokenPutWithoutContentLengthIsServedAndTheConnectionStaysUsable) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  auto send_all = [fd](const std::string& bytes) {
    return send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  };
  // Reads until `bytes` holds a whole response (headers plus Content-Length body) or EOF.
  auto read_response = [fd] {
    std::string bytes;
    char buf[4096];
    for (;;) {
      const size_t end = bytes.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t at = bytes.find("Content-Length: ");
        if (at != std::string::npos && at < end &&
            bytes.size() >= end + 4 + std::stoul(bytes.substr(at + 16))) {
          return bytes;
        }
      }
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return bytes;
      bytes.append(buf, static_cast<size_t>(n));
    }
  };
  const absl::Time start = absl::Now();
  ASSERT_TRUE(
      send_all("PUT /latest/api/token HTTP/1.1\r\nHost: 100.100.100.200\r\n"
               "X-aliyun-ecs-metadata-token-ttl-seconds: 60\r\n\r\n"));
  const std::string token_answer = read_response();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_THAT(token_answer, StartsWith("HTTP/1.1 200 OK\r\n"));
  const std::string token = token_answer.substr(token_answer.find("\r\n\r\n") + 4);
  EXPECT_EQ(token.size(), 56u);
  // The same connection serves the next request, which the token opens.
  ASSERT_TRUE(send_all(absl::StrCat(
      "GET /latest/meta-data/ram/security-credentials/ HTTP/1.1\r\nHost: 100.100.100.200\r\n",
      "X-aliyun-ecs-metadata-token: ", token, "\r\n\r\n")));
  const std::string bytes = read_response();
  close(fd);
  EXPECT_THAT(bytes, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(bytes, HasSubstr("\r\n\r\nEmulatorEcsRole"));
}

// --- Role and credentials -----------------------------------------------------------------

TEST_F(EmulatorImds, RoleListAnswersTheRoleName) {
  const TestReply with_slash = Get(kCredentialsPath);
  EXPECT_EQ(with_slash.status, 200);
  EXPECT_EQ(with_slash.body, "EmulatorEcsRole");
  EXPECT_EQ(Get("/latest/meta-data/ram/security-credentials").body, "EmulatorEcsRole");
}

TEST_F(EmulatorImds, CredentialsHaveTheDocumentedShape) {
  const TestReply reply = Get(kRolePath);
  ASSERT_EQ(reply.status, 200);
  EXPECT_THAT(reply.body, MatchesRegex(R"(\{"AccessKeyId":"STS\.[A-Za-z0-9]{28}",)"
                                       R"("AccessKeySecret":"[A-Za-z0-9]{30}",)"
                                       R"("Expiration":"2024-05-20T14:30:00Z",)"
                                       R"("SecurityToken":"CAIS[A-Za-z0-9+/]+==",)"
                                       R"("LastUpdated":"2024-05-20T08:30:00Z",)"
                                       R"("Code":"Success"\})"));
}

TEST_F(EmulatorImds, UnknownRoleAndOtherPathsAre404) {
  EXPECT_EQ(Get("/latest/meta-data/ram/security-credentials/OtherRole").status, 404);
  EXPECT_EQ(Get("/latest/meta-data/instance-id").status, 404);
  EXPECT_EQ(Get(absl::StrCat(kRolePath, "/extra")).status, 404);
}

// --- Hardened mode ------------------------------------------------------------------------

TEST_F(EmulatorImds, HardenedOffIgnoresTokensEvenInvalidOnes) {
  ASSERT_EQ(Control(R"({"imds_hardened_mode":"off"})").status, 200);
  EXPECT_EQ(Get(kRolePath).status, 200);
  EXPECT_EQ(Get(kRolePath, "not-a-token").status, 200);
}

TEST_F(EmulatorImds, HardenedOptionalIsTheDefaultAndChecksASentToken) {
  EXPECT_EQ(Get(kRolePath).status, 200);
  EXPECT_EQ(Get(kCredentialsPath, "not-a-token").status, 401);
  EXPECT_EQ(Get(kRolePath, "not-a-token").status, 401);
  EXPECT_EQ(Get(kRolePath, Token()).status, 200);
}

TEST_F(EmulatorImds, HardenedRequiredNeedsAValidUnexpiredToken) {
  ASSERT_EQ(Control(R"({"imds_hardened_mode":"required"})").status, 200);
  EXPECT_EQ(Get(kCredentialsPath).status, 401);
  EXPECT_EQ(Get(kRolePath).status, 401);
  EXPECT_EQ(Get(kRolePath, "not-a-token").status, 401);
  const std::string token = Token(60);
  EXPECT_EQ(Get(kCredentialsPath, token).status, 200);
  EXPECT_EQ(Get(kRolePath, token).status, 200);
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(Get(kRolePath, token).status, 200);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Get(kRolePath, token).status, 401);
  // Token PUTs are never token-checked.
  EXPECT_EQ(PutToken("60").status, 200);
}

// --- Rotation -----------------------------------------------------------------------------

TEST_F(EmulatorImds, SameCredentialsUntilTheRotationLeadThenNewOnes) {
  ASSERT_EQ(Control(R"({"imds_credential_lifetime_seconds":3600,"imds_rotation_lead_seconds":600})")
                .status,
            200);
  const auto first = Credentials();
  EXPECT_EQ(Field(first, "Expiration"), Utc(kNow + absl::Hours(1)));
  clock_.Advance(absl::Seconds(2999));  // 601 s before expiry
  const auto same = Credentials();
  EXPECT_EQ(Field(same, "AccessKeyId"), Field(first, "AccessKeyId"));
  EXPECT_EQ(Field(same, "SecurityToken"), Field(first, "SecurityToken"));
  EXPECT_EQ(Field(same, "LastUpdated"), Utc(kNow));
  clock_.Advance(absl::Seconds(1));  // exactly the lead before expiry
  const auto rotated = Credentials();
  EXPECT_NE(Field(rotated, "AccessKeyId"), Field(first, "AccessKeyId"));
  EXPECT_NE(Field(rotated, "AccessKeySecret"), Field(first, "AccessKeySecret"));
  EXPECT_EQ(Field(rotated, "Expiration"), Utc(kNow + absl::Seconds(3000 + 3600)));
  EXPECT_EQ(Field(rotated, "LastUpdated"), Utc(kNow + absl::Seconds(3000)));
  EXPECT_EQ(Field(Credentials(), "AccessKeyId"), Field(rotated, "AccessKeyId"));

  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.credentials_issued, 2);
  EXPECT_EQ(stats.credentials_issued_by_source.at("imds"), 2);
  EXPECT_EQ(stats.imds_requests.at("credentials"), 4);
}

TEST_F(EmulatorImds, ZeroLeadServesTheSameCredentialsUntilTheyExpire) {
  ASSERT_EQ(
      Control(R"({"imds_credential_lifetime_seconds":60,"imds_rotation_lead_seconds":0})").status,
      200);
  const std::string first = Field(Credentials(), "AccessKeyId");
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(Field(Credentials(), "AccessKeyId"), first);
  clock_.Advance(absl::Seconds(1));
  EXPECT_NE(Field(Credentials(), "AccessKeyId"), first);
}

TEST_F(EmulatorImds, ChangingTheRoleOrLifetimeIssuesNewCredentials) {
  const std::string first = Field(Credentials(), "AccessKeyId");
  ASSERT_EQ(Control(R"({"imds_role_name":"OtherRole"})").status, 200);
  EXPECT_EQ(Get(kCredentialsPath).body, "OtherRole");
  EXPECT_EQ(Get(kRolePath).status, 404);
  const TestReply other = Get("/latest/meta-data/ram/security-credentials/OtherRole");
  ASSERT_EQ(other.status, 200);
  const std::string second = Field(*TestClient::ParseJson(other.body), "AccessKeyId");
  EXPECT_NE(second, first);
  ASSERT_EQ(Control(R"({"imds_role_name":"EmulatorEcsRole",)"
                    R"("imds_credential_lifetime_seconds":120,"imds_rotation_lead_seconds":10})")
                .status,
            200);
  const auto third = Credentials();
  EXPECT_NE(Field(third, "AccessKeyId"), second);
  EXPECT_EQ(Field(third, "Expiration"), Utc(kNow + absl::Seconds(120)));
}

// --- Faults -------------------------------------------------------------------------------

TEST_F(EmulatorImds, Http500FaultAnswers500ThenServesNormally) {
  Arm(R"({"fault":"imds_http_500","count":2})");
  EXPECT_EQ(Get(kRolePath).status, 500);
  EXPECT_EQ(Get(kCredentialsPath).status, 500);
  EXPECT_EQ(Get(kRolePath).status, 200);
  EXPECT_EQ(Stats().faults_injected.at("imds_http_500"), 2);
}

TEST_F(EmulatorImds, CodeNotSuccessFaultAnswers200WithCodeFailure) {
  Arm(R"({"fault":"imds_code_not_success"})");
  const TestReply reply = Get(kRolePath);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(Field(*TestClient::ParseJson(reply.body), "Code"), "Failure");
  EXPECT_EQ(Field(Credentials(), "Code"), "Success");
}

TEST_F(EmulatorImds, ExpiredFaultAnswersCredentialsThatExpiredAMinuteAgo) {
  const auto current = Credentials();
  Arm(R"({"fault":"imds_expired"})");
  const auto expired = Credentials();
  EXPECT_EQ(Field(expired, "Code"), "Success");
  EXPECT_EQ(Field(expired, "Expiration"), Utc(kNow - absl::Minutes(1)));
  EXPECT_NE(Field(expired, "AccessKeyId"), Field(current, "AccessKeyId"));
  // They really are expired, and the instance's current credentials are untouched.
  const TestReply rejected = CreateJobWith(expired, SignatureVersion::kV3, "n1", "demo-firmware-1");
  EXPECT_EQ(rejected.status, 400);
  EXPECT_THAT(rejected.body, HasSubstr(R"("Code":"InvalidSecurityToken.Expired")"));
  EXPECT_EQ(Field(Credentials(), "AccessKeyId"), Field(current, "AccessKeyId"));
}

TEST_F(EmulatorImds, RepeatFaultAnswersTheCurrentCredentialsEvenWhenDue) {
  ASSERT_EQ(Control(R"({"imds_credential_lifetime_seconds":3600,"imds_rotation_lead_seconds":600})")
                .status,
            200);
  const std::string first = Field(Credentials(), "AccessKeyId");
  clock_.Advance(absl::Seconds(3500));  // due for rotation
  Arm(R"({"fault":"imds_repeat"})");
  EXPECT_EQ(Field(Credentials(), "AccessKeyId"), first);
  EXPECT_NE(Field(Credentials(), "AccessKeyId"), first);
}

TEST_F(EmulatorImds, FractionalExpiryFaultAddsMilliseconds) {
  const auto plain = Credentials();
  Arm(R"({"fault":"imds_fractional_expiry"})");
  const auto fractional = Credentials();
  EXPECT_EQ(Field(fractional, "AccessKeyId"), Field(plain, "AccessKeyId"));
  EXPECT_EQ(Field(plain, "Expiration"), "2024-05-20T14:30:00Z");
  EXPECT_EQ(Field(fractional, "Expiration"), "2024-05-20T14:29:59.123Z");  // never later
}

TEST_F(EmulatorImds, TimeoutFaultHoldsTheAnswerForDelay) {
  Arm(R"({"fault":"imds_timeout","delay_ms":1500,"count":2})");
  httplib::Client impatient("127.0.0.1", server_->port());
  impatient.set_read_timeout(0, 200000);  // 200 ms, like a client's IMDS read timeout
  EXPECT_FALSE(impatient.Get(kRolePath));
  const absl::Time start = absl::Now();
  const TestReply late = Get(kRolePath);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1500));
  EXPECT_EQ(late.status, 200);
  EXPECT_EQ(Stats().faults_injected.at("imds_timeout"), 2);
}

TEST_F(EmulatorImds, FaultActionFiltersByPathKind) {
  Arm(R"({"fault":"imds_http_500","action":"token"})");
  Arm(R"({"fault":"imds_expired"})");  // credentials only, even without a filter
  EXPECT_EQ(Get(kCredentialsPath).status, 200);
  EXPECT_EQ(PutToken("60").status, 500);
  EXPECT_EQ(Field(Credentials(), "Expiration"), Utc(kNow - absl::Minutes(1)));
  EXPECT_EQ(server_->faults().Armed().size(), 0u);
}

TEST_F(EmulatorImds, RpcAndImdsFaultsNeverCross) {
  Arm(R"({"fault":"http_500","count":-1})");
  const auto creds = Credentials();  // not faulted
  ASSERT_EQ(Send("DELETE", "/_emulator/faults").status, 200);
  Arm(R"({"fault":"imds_http_500","count":-1})");
  EXPECT_EQ(Get(kRolePath).status, 500);
  EXPECT_EQ(CreateJobWith(creds, SignatureVersion::kV3, "n1", "demo-firmware-1").status, 200);
}

TEST_F(EmulatorImds, ImdsFaultsAreValidatedListedAndCleared) {
  for (const char* body : {
           R"({"fault":"imds_expired","action":"token"})",
           R"({"fault":"imds_repeat","action":"role"})",
           R"({"fault":"imds_http_500","action":"CreateOTAVerifyJob"})",
           R"({"fault":"imds_http_500","delay_ms":5})",
           R"({"fault":"imds_nonsense"})",
       }) {
    EXPECT_EQ(Send("POST", "/_emulator/faults", {}, body).status, 400) << body;
  }
  Arm(R"({"fault":"imds_timeout","count":-1,"delay_ms":10,"action":"role"})");
  EXPECT_EQ(Send("GET", "/_emulator/faults").body,
            R"({"faults":[{"fault":"imds_timeout","count":-1,"delay_ms":10,"action":"role"}]})");
  ASSERT_EQ(Send("POST", "/_emulator/reset").status, 200);
  EXPECT_EQ(Send("GET", "/_emulator/faults").body, R"({"faults":[]})");
}

TEST(EmulatorImdsFaults, EveryImdsNameParsesRoundTripsAndIsImds) {
  for (const char* name : {"imds_timeout", "imds_http_500", "imds_code_not_success", "imds_expired",
                           "imds_repeat", "imds_fractional_expiry"}) {
    const absl::StatusOr<Fault> fault = ParseFault(absl::StrCat(R"({"fault":")", name, R"("})"));
    ASSERT_TRUE(fault.ok()) << name << ": " << fault.status();
    EXPECT_EQ(FaultName(fault->kind), name);
    EXPECT_TRUE(IsImdsFault(fault->kind));
    EXPECT_EQ(ParseFault(fault->ToJson())->ToJson(), fault->ToJson());
    FaultInjector faults;
    ASSERT_TRUE(faults.Arm(*fault).ok());
    EXPECT_FALSE(faults.Take("").has_value());  // RPC requests never take IMDS faults
    EXPECT_TRUE(faults.TakeImds("credentials").has_value());
  }
}

// --- IMDS credentials at the IoT API ------------------------------------------------------

TEST_F(EmulatorImds, IssuedCredentialsWorkUntilExpiryThenAreExpiredV1AndV3) {
  ASSERT_EQ(
      Control(R"({"imds_credential_lifetime_seconds":600,"imds_rotation_lead_seconds":60})").status,
      200);
  const auto creds = Credentials();
  EXPECT_EQ(CreateJobWith(creds, SignatureVersion::kV1, "n1", "demo-firmware-1").status, 200);
  EXPECT_EQ(CreateJobWith(creds, SignatureVersion::kV3, "n2", "demo-firmware-2").status, 200);
  clock_.Advance(absl::Seconds(599));
  EXPECT_EQ(CreateJobWith(creds, SignatureVersion::kV3, "n3", "demo-firmware-3").status, 200);
  clock_.Advance(absl::Seconds(1));
  for (SignatureVersion version : {SignatureVersion::kV1, SignatureVersion::kV3}) {
    const TestReply expired = CreateJobWith(
        creds, version, absl::StrCat("late-", static_cast<int>(version)), "demo-firmware-4");
    EXPECT_EQ(expired.status, 400);
    EXPECT_THAT(expired.content_type, HasSubstr("application/json"));  // Format=JSON / V3
    EXPECT_THAT(expired.body, HasSubstr(R"("Code":"InvalidSecurityToken.Expired")"));
    EXPECT_THAT(expired.body, HasSubstr(R"("HostId":")"));
  }
  // The rotated credentials work.
  EXPECT_EQ(CreateJobWith(Credentials(), SignatureVersion::kV1, "n5", "demo-firmware-4").status,
            200);
}

TEST_F(EmulatorImds, IssuedCredentialsNeedTheirOwnToken) {
  const auto creds = Credentials();
  const TestReply wrong = CreateJobWith(creds, SignatureVersion::kV3, "n1", "demo-firmware-1",
                                        std::string("CAISsomeoneelse=="));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_THAT(wrong.body, HasSubstr("InvalidSecurityToken.MismatchWithAccessKey"));
  const TestReply missing =
      CreateJobWith(creds, SignatureVersion::kV1, "n2", "demo-firmware-1", std::string());
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(missing.body, HasSubstr("MissingSecurityToken"));
  auto unknown = creds;
  (*unknown.mutable_fields())["AccessKeyId"].set_string_value("STS.NotIssuedByTheEmulator");
  const TestReply not_found =
      CreateJobWith(unknown, SignatureVersion::kV3, "n3", "demo-firmware-1");
  EXPECT_EQ(not_found.status, 404);
  EXPECT_THAT(not_found.body, HasSubstr("InvalidAccessKeyId.NotFound"));
}

// --- Control and stats --------------------------------------------------------------------

TEST_F(EmulatorImds, ControlGetAnswersTheSettingsAndPostChangesOnlyTheFieldsGiven) {
  EXPECT_EQ(
      Send("GET", "/_emulator/credentials").body,
      R"({"imds_hardened_mode":"optional","imds_role_name":"EmulatorEcsRole",)"
      R"("imds_credential_lifetime_seconds":21600,"imds_rotation_lead_seconds":3600,)"
      R"("sts_duration_seconds":0,"sts_min_duration_seconds":900,)"
      R"("sts_max_duration_seconds":3600,"oidc_token":"emulator-oidc-token",)"
      R"("role_arn":"acs:ram::1234567890123456:role/emulator-role",)"
      R"("oidc_provider_arn":"acs:ram::1234567890123456:oidc-provider/emulator-oidc-provider"})");
  const TestReply updated = Control(R"({"imds_hardened_mode":"required","imds_role_name":"R2"})");
  EXPECT_EQ(updated.status, 200);
  EXPECT_THAT(updated.body, StartsWith(R"({"imds_hardened_mode":"required","imds_role_name":"R2",)"
                                       R"("imds_credential_lifetime_seconds":21600,)"));
  EXPECT_EQ(updated.body, Send("GET", "/_emulator/credentials").body);
}

TEST_F(EmulatorImds, ControlRejectsInvalidSettingsAndChangesNothing) {
  const std::string before = Send("GET", "/_emulator/credentials").body;
  for (const char* body : {
           "not json",
           R"({"imds_hardened_mode":"strict"})",
           R"({"imds_role_name":""})",
           R"({"imds_role_name":"a/b"})",
           R"({"imds_credential_lifetime_seconds":0})",
           R"({"imds_rotation_lead_seconds":-1})",
           R"({"imds_credential_lifetime_seconds":100,"imds_rotation_lead_seconds":101})",
           R"({"sts_min_duration_seconds":0})",
           R"({"sts_max_duration_seconds":10,"sts_min_duration_seconds":20})",
           R"({"sts_duration_seconds":-5})",
           R"({"oidc_token":""})",
           R"({"imds_hardened_mode":"off","imds_role":"typo"})",
       }) {
    const TestReply reply = Control(body);
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_THAT(reply.body, StartsWith(R"({"error":")")) << body;
  }
  EXPECT_EQ(Send("GET", "/_emulator/credentials").body, before);
}

TEST_F(EmulatorImds, ResetRestoresTheStartUpSettingsAndForgetsTokensAndCredentials) {
  CredentialSettings start;
  start.imds_hardened_mode = ImdsHardenedMode::kRequired;
  start.imds_role_name = "StartRole";
  StartServer(start);
  const std::string token = Token();
  const auto creds = *TestClient::ParseJson(
      Get("/latest/meta-data/ram/security-credentials/StartRole", token).body);
  ASSERT_EQ(Control(R"({"imds_hardened_mode":"off","imds_role_name":"Changed"})").status, 200);
  ASSERT_EQ(Send("POST", "/_emulator/reset").status, 200);
  EXPECT_THAT(Send("GET", "/_emulator/credentials").body,
              StartsWith(R"({"imds_hardened_mode":"required","imds_role_name":"StartRole",)"));
  EXPECT_EQ(Get(kCredentialsPath, token).status, 401);  // the token is forgotten
  const TestReply forgotten = CreateJobWith(creds, SignatureVersion::kV3, "n1", "demo-firmware-1");
  EXPECT_EQ(forgotten.status, 404);
  EXPECT_THAT(forgotten.body, HasSubstr("InvalidAccessKeyId.NotFound"));
  EXPECT_EQ(Stats().credentials_issued, 0);
}

TEST_F(EmulatorImds, StatsCountImdsRequestsByPathKindOutsideRequestsTotal) {
  Token();
  Get(kCredentialsPath);
  Get(kRolePath);
  Get(kRolePath);
  Get("/latest/meta-data/instance-id");
  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.imds_requests.at("token"), 1);
  EXPECT_EQ(stats.imds_requests.at("role"), 1);
  EXPECT_EQ(stats.imds_requests.at("credentials"), 2);
  EXPECT_EQ(stats.imds_requests.at("other"), 1);
  EXPECT_EQ(stats.requests_total, 0);
  EXPECT_EQ(stats.credentials_issued, 1);
  EXPECT_THAT(Send("GET", "/_emulator/stats").body,
              HasSubstr(R"("imds_requests":{"credentials":2,"other":1,"role":1,"token":1},)"
                        R"("sts_requests":{},"credentials_issued":1,)"
                        R"("credentials_issued_by_source":{"imds":1})"));
}

TEST_F(EmulatorImds, StatsBodyOmitsTheCredentialCountersUntilThereIsSomethingToCount) {
  EXPECT_THAT(Send("GET", "/_emulator/stats").body, Not(HasSubstr("imds_requests")));
  Get(kCredentialsPath);
  EXPECT_THAT(Send("GET", "/_emulator/stats").body,
              HasSubstr(R"("imds_requests":{"role":1},"sts_requests":{},"credentials_issued":0,)"));
  ASSERT_EQ(Send("POST", "/_emulator/reset").status, 200);
  EXPECT_THAT(Send("GET", "/_emulator/stats").body, Not(HasSubstr("imds_requests")));
}

TEST(EmulatorServerOptions, InvalidCredentialSettingsFailStart) {
  ManualClock clock(kNow);
  EmulatorOptions options;
  options.seed = DemoSeed();
  options.credentials.imds_rotation_lead = absl::Hours(7);  // longer than the 6 h lifetime
  EmulatorServer server(options, &clock);
  EXPECT_EQ(server.Start().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify

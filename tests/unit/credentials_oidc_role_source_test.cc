// OidcRoleSource against a scripted STS: the unsigned AssumeRoleWithOIDC request, the token
// file re-read on every fetch, STS endpoint forms, and how STS errors map.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/signer.h"
#include "service/credentials/oidc_role_source.h"
#include "tests/testing/fake_http_transport.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::FakeHttpTransport;
using ::otaverify::testing::Reply;
using ::otaverify::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 6, 7, 8, 9), absl::UTCTimeZone());
constexpr char kOidcToken[] = "eyJhbGciOiJSUzI1NiJ9.first-token+/=.sig";
constexpr char kStsSecret[] = "sts-secret-VALUE";
constexpr char kStsToken[] = "sts-token-VALUE";

std::string StsSuccess() {
  return absl::StrCat(R"({"RequestId":"req-1","Credentials":{"AccessKeyId":"STS.oidc-key",)",
                      R"("AccessKeySecret":")", kStsSecret, R"(","SecurityToken":")", kStsToken,
                      R"(","Expiration":"2024-05-06T08:08:09Z"},)",
                      R"("AssumedRoleUser":{"Arn":"acs:ram::1:role/r/s","AssumedRoleId":"3"}})");
}

std::map<std::string, std::string> DecodeForm(absl::string_view text) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    std::string name, value;
    EXPECT_TRUE(PercentDecode(kv.first, &name) && PercentDecode(kv.second, &value)) << pair;
    out[name] = value;
  }
  return out;
}

std::map<std::string, std::string> Query(const HttpRequest& request) {
  const size_t q = request.url.find('?');
  return q == std::string::npos ? std::map<std::string, std::string>()
                                : DecodeForm(absl::string_view(request.url).substr(q + 1));
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

absl::StatusOr<Credentials> FetchNow(CredentialsSource& source, absl::Time now) {
  std::optional<absl::StatusOr<Credentials>> result;
  source.Fetch(now, [&](absl::StatusOr<Credentials> r) { result = std::move(r); });
  EXPECT_TRUE(result.has_value()) << "Fetch did not complete";
  return result.value_or(absl::InternalError("Fetch did not complete"));
}

class OidcRoleSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/oidc_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
    token_file_ = absl::StrCat(dir_, "/token");
    WriteFile(token_file_, absl::StrCat(kOidcToken, "\n"));
  }

  OidcRoleSource::Options Options() const {
    OidcRoleSource::Options options;
    options.role_arn = "acs:ram::123:role/ota";
    options.oidc_provider_arn = "acs:ram::123:oidc-provider/ack-rrsa-c1";
    options.oidc_token_file = token_file_;
    options.role_session_name = "otaverify-test";
    return options;
  }
  std::unique_ptr<OidcRoleSource> Make(OidcRoleSource::Options options) {
    auto source = OidcRoleSource::Create(&transport_, std::move(options), &clock_);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  std::string dir_;
  std::string token_file_;
  FakeHttpTransport transport_;
  ManualClock clock_{kNow};
};

TEST_F(OidcRoleSourceTest, SendsUnsignedAssumeRoleWithOidc) {
  auto source = Make(Options());
  transport_.Push(Reply(200, StsSuccess()));
  absl::StatusOr<Credentials> c = FetchNow(*source, kNow);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "STS.oidc-key");
  EXPECT_EQ(c->access_key_secret, kStsSecret);
  EXPECT_EQ(c->security_token, kStsToken);
  EXPECT_EQ(c->expiration, kNow + absl::Hours(1));
  EXPECT_EQ(c->source, "oidc_role_arn");

  ASSERT_EQ(transport_.request_count(), 1u);
  const HttpRequest r = transport_.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_THAT(r.url, StartsWith("https://sts.aliyuncs.com/?"));
  const auto query = Query(r);
  EXPECT_EQ(query.at("Action"), "AssumeRoleWithOIDC");
  EXPECT_EQ(query.at("Version"), "2015-04-01");
  EXPECT_EQ(query.at("Format"), "JSON");
  EXPECT_EQ(query.at("Timestamp"), "2024-05-06T07:08:09Z");
  EXPECT_FALSE(query.at("SignatureNonce").empty());
  const auto form = DecodeForm(r.body);
  EXPECT_EQ(form.at("RoleArn"), "acs:ram::123:role/ota");
  EXPECT_EQ(form.at("OIDCProviderArn"), "acs:ram::123:oidc-provider/ack-rrsa-c1");
  EXPECT_EQ(form.at("OIDCToken"), kOidcToken);  // trailing newline stripped
  EXPECT_EQ(form.at("RoleSessionName"), "otaverify-test");
  EXPECT_EQ(form.at("DurationSeconds"), "3600");
  EXPECT_EQ(form.count("Policy"), 0u);
  // Unsigned, and the token stays out of the URL.
  for (const char* absent : {"Signature", "AccessKeyId", "SignatureMethod", "SecurityToken"}) {
    EXPECT_EQ(query.count(absent) + form.count(absent), 0u) << absent;
  }
  EXPECT_THAT(r.url, Not(HasSubstr("OIDCToken")));
  bool form_type = false;
  for (const auto& [n, v] : r.headers) {
    form_type |=
        absl::EqualsIgnoreCase(n, "content-type") && v == "application/x-www-form-urlencoded";
  }
  EXPECT_TRUE(form_type);
  EXPECT_FALSE(r.no_proxy);
}

TEST_F(OidcRoleSourceTest, SendsPolicyAndDurationWhenSet) {
  auto options = Options();
  options.policy = R"({"Version":"1","Statement":[]})";
  options.duration_seconds = 900;
  auto source = Make(options);
  transport_.Push(Reply(200, StsSuccess()));
  ASSERT_TRUE(FetchNow(*source, kNow).ok());
  const auto form = DecodeForm(transport_.requests()[0].body);
  EXPECT_EQ(form.at("Policy"), options.policy);
  EXPECT_EQ(form.at("DurationSeconds"), "900");
}

TEST_F(OidcRoleSourceTest, ReReadsTheTokenFileOnEveryFetch) {
  auto source = Make(Options());
  transport_.SetHandler([](const HttpRequest&) { return Reply(200, StsSuccess()); });
  ASSERT_TRUE(FetchNow(*source, kNow).ok());
  // The kubelet swaps a symlink to a new file.
  const std::string next = absl::StrCat(dir_, "/token-2");
  WriteFile(next, "rotated-token\n");
  const std::string link = absl::StrCat(dir_, "/token-link");
  ASSERT_EQ(symlink(next.c_str(), link.c_str()), 0);
  ASSERT_EQ(rename(link.c_str(), token_file_.c_str()), 0);
  ASSERT_TRUE(FetchNow(*source, kNow).ok());
  const auto requests = transport_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(DecodeForm(requests[0].body).at("OIDCToken"), kOidcToken);
  EXPECT_EQ(DecodeForm(requests[1].body).at("OIDCToken"), "rotated-token");
  // A fresh nonce per request.
  EXPECT_NE(Query(requests[0]).at("SignatureNonce"), Query(requests[1]).at("SignatureNonce"));
}

TEST_F(OidcRoleSourceTest, MissingOrEmptyTokenFileIsFailedPreconditionNamingIt) {
  auto source = Make(Options());
  WriteFile(token_file_, "\n");
  absl::Status status = FetchNow(*source, kNow).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(status.message()), HasSubstr(token_file_));
  ASSERT_EQ(unlink(token_file_.c_str()), 0);
  status = FetchNow(*source, kNow).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(status.message()), HasSubstr(token_file_));
  EXPECT_EQ(transport_.request_count(), 0u);
}

TEST_F(OidcRoleSourceTest, ThrottlingAndServerErrorsAreUnavailable) {
  auto source = Make(Options());
  transport_.Push(
      Reply(400, R"({"Code":"Throttling.User","Message":"slow down","RequestId":"r-9"})"));
  const absl::Status throttled = FetchNow(*source, kNow).status();
  EXPECT_THAT(throttled, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(throttled.message()), HasSubstr("Throttling.User"));
  EXPECT_THAT(std::string(throttled.message()), HasSubstr("r-9"));
  transport_.Push(Reply(503, "<html>bad gateway</html>"));
  EXPECT_THAT(FetchNow(*source, kNow).status(), StatusIs(absl::StatusCode::kUnavailable));
  transport_.Push(absl::DeadlineExceededError("timed out"));
  EXPECT_THAT(FetchNow(*source, kNow).status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(OidcRoleSourceTest, RefusalsNeedAnOperatorAndNameCodeAndRequestId) {
  auto source = Make(Options());
  transport_.Push(
      Reply(403, R"({"Code":"AuthenticationFail.NoPermission","Message":"no","RequestId":"r-1"})"));
  const absl::Status denied = FetchNow(*source, kNow).status();
  EXPECT_THAT(denied, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("AuthenticationFail.NoPermission"));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("r-1"));
  transport_.Push(Reply(404, R"({"Code":"EntityNotExist.Role","Message":"x","RequestId":"r-2"})"));
  EXPECT_THAT(FetchNow(*source, kNow).status(), StatusIs(absl::StatusCode::kPermissionDenied));
  transport_.Push(
      Reply(400, R"({"Code":"InvalidParameter.RoleArn","Message":"x","RequestId":"r-3"})"));
  EXPECT_THAT(FetchNow(*source, kNow).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(OidcRoleSourceTest, EchoedTokenNeverReachesTheError) {
  auto source = Make(Options());
  transport_.Push(
      Reply(400, absl::StrCat(R"({"Code":"InvalidParameter.OIDCToken","Message":"bad )", kOidcToken,
                              " ", PercentEncode(kOidcToken), R"(","RequestId":"r-4"})")));
  const absl::Status status = FetchNow(*source, kNow).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kOidcToken)));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(PercentEncode(kOidcToken))));
  EXPECT_THAT(std::string(status.message()), HasSubstr("<redacted>"));
}

TEST_F(OidcRoleSourceTest, SuccessWithoutCredentialsIsInvalidArgument) {
  auto source = Make(Options());
  transport_.Push(Reply(200, R"({"RequestId":"r-5"})"));
  EXPECT_THAT(FetchNow(*source, kNow).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(OidcRoleSourceTest, OptionsFromEnvironmentAndDefaultSessionName) {
  const auto options = OidcRoleSource::OptionsFromEnvironment(
      MapEnvironment({{"ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"},
                      {"ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1:oidc-provider/p"},
                      {"ALIBABA_CLOUD_OIDC_TOKEN_FILE", token_file_},
                      {"ALIBABA_CLOUD_STS_ENDPOINT", "sts-vpc.cn-hangzhou.aliyuncs.com"}}),
      /*allow_insecure_endpoint=*/false);
  EXPECT_EQ(options.role_arn, "acs:ram::1:role/r");
  EXPECT_EQ(options.oidc_provider_arn, "acs:ram::1:oidc-provider/p");
  EXPECT_EQ(options.oidc_token_file, token_file_);
  auto source = Make(options);
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(source->role_session_name(), StartsWith("otaverify-"));
  EXPECT_EQ(source->endpoint().base_url, "https://sts-vpc.cn-hangzhou.aliyuncs.com");

  const auto named = OidcRoleSource::OptionsFromEnvironment(
      MapEnvironment({{"ALIBABA_CLOUD_ROLE_SESSION_NAME", "pod-a"}}), false);
  EXPECT_EQ(named.role_session_name, "pod-a");
}

TEST_F(OidcRoleSourceTest, BadOptionsAreRejectedAtCreation) {
  for (auto mutate : std::vector<std::function<void(OidcRoleSource::Options&)>>{
           [](auto& o) { o.role_arn.clear(); },
           [](auto& o) { o.oidc_provider_arn.clear(); },
           [](auto& o) { o.oidc_token_file.clear(); },
           [](auto& o) { o.role_session_name = "has space"; },
           [](auto& o) { o.duration_seconds = 899; },
       }) {
    auto options = Options();
    mutate(options);
    EXPECT_THAT(OidcRoleSource::Create(&transport_, options, &clock_).status(),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

// STS endpoint forms (ResolveStsEndpoint), as every STS source resolves them.
StsOptions Sts(std::string endpoint, std::string region, bool vpc, bool allow_insecure) {
  StsOptions options;
  options.endpoint = std::move(endpoint);
  options.region = std::move(region);
  options.vpc = vpc;
  options.allow_insecure_endpoint = allow_insecure;
  return options;
}

std::string Resolve(StsOptions options) {
  absl::StatusOr<Endpoint> endpoint = ResolveStsEndpoint(options);
  return endpoint.ok() ? endpoint->base_url : absl::StrCat("error: ", endpoint.status().message());
}

TEST(OidcRoleSourceEndpoint, HostAloneMeansHttps) {
  EXPECT_EQ(Resolve(Sts("sts-vpc.cn-hangzhou.aliyuncs.com", "", false, false)),
            "https://sts-vpc.cn-hangzhou.aliyuncs.com");
}

TEST(OidcRoleSourceEndpoint, HttpsUrlIsTakenAsIs) {
  EXPECT_EQ(Resolve(Sts("https://sts.cn-shanghai.aliyuncs.com/", "", false, false)),
            "https://sts.cn-shanghai.aliyuncs.com");
}

TEST(OidcRoleSourceEndpoint, HttpUrlIsRefusedUnlessAllowed) {
  EXPECT_THAT(ResolveStsEndpoint(Sts("http://127.0.0.1:8080", "", false, false)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Resolve(Sts("http://127.0.0.1:8080", "", false, true)), "http://127.0.0.1:8080");
}

TEST(OidcRoleSourceEndpoint, RegionAndVpc) {
  EXPECT_EQ(Resolve(Sts("", "", false, false)), "https://sts.aliyuncs.com");
  EXPECT_EQ(Resolve(Sts("", "cn-beijing", false, false)), "https://sts.cn-beijing.aliyuncs.com");
  EXPECT_EQ(Resolve(Sts("", "cn-beijing", true, false)), "https://sts-vpc.cn-beijing.aliyuncs.com");
  EXPECT_THAT(ResolveStsEndpoint(Sts("", "", true, false)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ResolveStsEndpoint(Sts("", "cn-beijing/evil", false, false)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // An explicit endpoint wins over the region.
  EXPECT_EQ(Resolve(Sts("sts.example.com", "cn-beijing", false, false)), "https://sts.example.com");
}

TEST(OidcRoleSourceEndpoint, FromEnvironment) {
  const StsOptions options =
      StsOptionsFromEnvironment(MapEnvironment({{"ALIBABA_CLOUD_STS_REGION", "cn-hangzhou"},
                                                {"ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "true"}}),
                                false);
  EXPECT_EQ(Resolve(options), "https://sts-vpc.cn-hangzhou.aliyuncs.com");
}

TEST(OidcRoleSourceEndpoint, MalformedEndpointIsRejected) {
  EXPECT_THAT(ResolveStsEndpoint(Sts("https://sts.aliyuncs.com/path", "", false, false)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ResolveStsEndpoint(Sts("ftp://sts.aliyuncs.com", "", false, false)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace otaverify

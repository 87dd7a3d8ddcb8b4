// RamRoleArnSource against a scripted STS: AssumeRole V1-signed with exactly the snapshot the
// source provider hands out, rejections of that snapshot invalidated, errors redacted.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/signer.h"
#include "service/credentials/ram_role_arn_source.h"
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
constexpr char kSourceSecret[] = "source-secret/+=VALUE";
constexpr char kSourceToken[] = "source-sts-token/+=VALUE";

// Hands out one snapshot (or an error) and records invalidations.
class FakeProvider : public CredentialsProvider {
 public:
  void Get(absl::Time now, Callback done) override {
    ++gets;
    if (!error.ok()) {
      std::move(done)(error);
      return;
    }
    std::move(done)(snapshot);
  }
  void Invalidate(const Credentials& rejected) override { invalidated.push_back(rejected); }

  CredentialsSnapshot snapshot = std::make_shared<const Credentials>(
      Credentials{"STS.source-key", kSourceSecret, kSourceToken, absl::InfiniteFuture(), "test"});
  absl::Status error;
  int gets = 0;
  std::vector<Credentials> invalidated;
};

std::string StsSuccess() {
  return R"({"RequestId":"req-1","Credentials":{"AccessKeyId":"STS.assumed","AccessKeySecret":"assumed-secret","SecurityToken":"assumed-token","Expiration":"2024-05-06T08:08:09Z"}})";
}

Params DecodeQuery(const std::string& url) {
  Params out;
  const size_t q = url.find('?');
  if (q == std::string::npos) return out;
  for (absl::string_view pair : absl::StrSplit(url.substr(q + 1), '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    std::string name, value;
    EXPECT_TRUE(PercentDecode(kv.first, &name) && PercentDecode(kv.second, &value)) << pair;
    out.emplace_back(name, value);
  }
  return out;
}

std::map<std::string, std::string> AsMap(const Params& params) {
  return std::map<std::string, std::string>(params.begin(), params.end());
}

absl::StatusOr<Credentials> FetchNow(CredentialsSource& source, absl::Time now) {
  std::optional<absl::StatusOr<Credentials>> result;
  source.Fetch(now, [&](absl::StatusOr<Credentials> r) { result = std::move(r); });
  EXPECT_TRUE(result.has_value()) << "Fetch did not complete";
  return result.value_or(absl::InternalError("Fetch did not complete"));
}

class RamRoleArnSourceTest : public ::testing::Test {
 protected:
  RamRoleArnSource::Options Options() {
    RamRoleArnSource::Options options;
    options.role_arn = "acs:ram::123:role/ota";
    options.role_session_name = "otaverify-test";
    return options;
  }
  std::unique_ptr<RamRoleArnSource> Make(RamRoleArnSource::Options options) {
    auto source = RamRoleArnSource::Create(&transport_, &provider_, std::move(options), &clock_);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  FakeHttpTransport transport_;
  FakeProvider provider_;
  ManualClock clock_{kNow};
};

TEST_F(RamRoleArnSourceTest, AssumeRoleIsV1SignedWithTheSourceSnapshot) {
  auto options = Options();
  options.policy = R"({"Statement":[{"Effect":"Allow"}]})";
  options.external_id = "ext-1";
  options.duration_seconds = 1800;
  auto source = Make(options);
  transport_.Push(Reply(200, StsSuccess()));
  absl::StatusOr<Credentials> c = FetchNow(*source, kNow);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "STS.assumed");
  EXPECT_EQ(c->security_token, "assumed-token");
  EXPECT_EQ(c->expiration, kNow + absl::Hours(1));
  EXPECT_EQ(c->source, "ram_role_arn");

  ASSERT_EQ(transport_.request_count(), 1u);
  const HttpRequest r = transport_.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_THAT(r.url, StartsWith("https://sts.aliyuncs.com/?"));
  Params params = DecodeQuery(r.url);
  const auto map = AsMap(params);
  EXPECT_EQ(map.at("Action"), "AssumeRole");
  EXPECT_EQ(map.at("Version"), "2015-04-01");
  EXPECT_EQ(map.at("Format"), "JSON");
  EXPECT_EQ(map.at("SignatureMethod"), "HMAC-SHA1");
  EXPECT_EQ(map.at("SignatureVersion"), "1.0");
  EXPECT_EQ(map.at("Timestamp"), "2024-05-06T07:08:09Z");
  EXPECT_EQ(map.at("AccessKeyId"), "STS.source-key");
  EXPECT_EQ(map.at("SecurityToken"), kSourceToken);
  EXPECT_EQ(map.at("RoleArn"), "acs:ram::123:role/ota");
  EXPECT_EQ(map.at("RoleSessionName"), "otaverify-test");
  EXPECT_EQ(map.at("DurationSeconds"), "1800");
  EXPECT_EQ(map.at("Policy"), options.policy);
  EXPECT_EQ(map.at("ExternalId"), "ext-1");

  // Recompute the signature with the project's signer over everything but Signature.
  const std::string signature = map.at("Signature");
  params.erase(std::remove_if(params.begin(), params.end(),
                              [](const auto& p) { return p.first == "Signature"; }),
               params.end());
  EXPECT_EQ(SignatureV1(kSourceSecret, StringToSignV1("POST", CanonicalQuery(params))), signature);
  EXPECT_NE(SignatureV1("another-secret", StringToSignV1("POST", CanonicalQuery(params))),
            signature);
  EXPECT_EQ(provider_.gets, 1);
}

TEST_F(RamRoleArnSourceTest, EveryFetchSignsAnewWithAFreshNonce) {
  auto source = Make(Options());
  transport_.SetHandler([](const HttpRequest&) { return Reply(200, StsSuccess()); });
  ASSERT_TRUE(FetchNow(*source, kNow).ok());
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(FetchNow(*source, clock_.Now()).ok());
  const auto requests = transport_.requests();
  const auto first = AsMap(DecodeQuery(requests[0].url));
  const auto second = AsMap(DecodeQuery(requests[1].url));
  EXPECT_NE(first.at("SignatureNonce"), second.at("SignatureNonce"));
  EXPECT_EQ(second.at("Timestamp"), "2024-05-06T07:08:14Z");
}

TEST_F(RamRoleArnSourceTest, RejectedSourceTokenIsInvalidatedAndRetryable) {
  auto source = Make(Options());
  transport_.Push(
      Reply(400, absl::StrCat(R"({"Code":"InvalidSecurityToken.Expired",)", R"("Message":"token )",
                              kSourceToken, R"( expired","RequestId":"r-7"})")));
  const absl::Status status = FetchNow(*source, kNow).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_EQ(provider_.invalidated.size(), 1u);
  EXPECT_EQ(provider_.invalidated[0].access_key_id, "STS.source-key");
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kSourceToken)));
  EXPECT_THAT(std::string(status.message()), HasSubstr("r-7"));
}

TEST_F(RamRoleArnSourceTest, SignatureMismatchIsPermissionDeniedWithoutTheSecret) {
  auto source = Make(Options());
  // STS echoes its string to sign, which holds the percent-encoded token.
  transport_.Push(Reply(
      400, absl::StrCat(R"({"Code":"SignatureDoesNotMatch","Message":"server string to sign is:)",
                        PercentEncode(PercentEncode(kSourceToken)), " ",
                        PercentEncode(kSourceSecret), R"(","RequestId":"r-8"})")));
  const absl::Status status = FetchNow(*source, kNow).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(provider_.invalidated.size(), 1u);
  for (const std::string& secret :
       {std::string(kSourceSecret), PercentEncode(kSourceSecret), std::string(kSourceToken),
        PercentEncode(kSourceToken), PercentEncode(PercentEncode(kSourceToken))}) {
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(secret)));
  }
}

TEST_F(RamRoleArnSourceTest, RoleRefusalsDoNotInvalidateTheSource) {
  auto source = Make(Options());
  transport_.Push(
      Reply(403, R"({"Code":"NoPermission","Message":"not allowed","RequestId":"r-9"})"));
  EXPECT_THAT(FetchNow(*source, kNow).status(), StatusIs(absl::StatusCode::kPermissionDenied));
  transport_.Push(Reply(400, R"({"Code":"Throttling.User","Message":"x","RequestId":"r-10"})"));
  EXPECT_THAT(FetchNow(*source, kNow).status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(provider_.invalidated.empty());
}

TEST_F(RamRoleArnSourceTest, SourceProviderErrorIsPassedOnWithoutCallingSts) {
  provider_.error = absl::UnavailableError("source refresh failed");
  auto source = Make(Options());
  const absl::Status status = FetchNow(*source, kNow).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(status.message()), HasSubstr("source refresh failed"));
  EXPECT_EQ(transport_.request_count(), 0u);
}

TEST_F(RamRoleArnSourceTest, OwnsAStaticSourceProvider) {
  auto source = RamRoleArnSource::Create(
      &transport_,
      std::make_unique<StaticCredentialsProvider>(
          Credentials{"LTAI-owned", "owned-secret", "", absl::InfiniteFuture(), "profile"}),
      Options(), &clock_);
  ASSERT_TRUE(source.ok()) << source.status();
  transport_.Push(Reply(200, StsSuccess()));
  ASSERT_TRUE(FetchNow(**source, kNow).ok());
  const auto map = AsMap(DecodeQuery(transport_.requests()[0].url));
  EXPECT_EQ(map.at("AccessKeyId"), "LTAI-owned");
  EXPECT_EQ(map.count("SecurityToken"), 0u);
}

TEST_F(RamRoleArnSourceTest, DefaultSessionNameAndBadOptions) {
  auto options = Options();
  options.role_session_name.clear();
  auto source = Make(options);
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(source->role_session_name(), StartsWith("otaverify-"));

  options = Options();
  options.role_arn.clear();
  EXPECT_THAT(RamRoleArnSource::Create(&transport_, &provider_, options, &clock_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options = Options();
  options.duration_seconds = 60;
  EXPECT_THAT(RamRoleArnSource::Create(&transport_, &provider_, options, &clock_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RamRoleArnSource::Create(&transport_, static_cast<CredentialsProvider*>(nullptr),
                                       Options(), &clock_)
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace otaverify

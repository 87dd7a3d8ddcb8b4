// SourceFromEnvironment: precedence, half-configured sources as errors, and no fall-through
// at run time. The environment is a map: hermetic.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/credentials/source_from_environment.h"
#include "tests/testing/fake_http_transport.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::FakeHttpTransport;
using ::otaverify::testing::Reply;
using ::otaverify::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1715000000);

absl::StatusOr<Credentials> FetchNow(CredentialsSource& source) {
  std::optional<absl::StatusOr<Credentials>> result;
  source.Fetch(kNow, [&](absl::StatusOr<Credentials> r) { result = std::move(r); });
  EXPECT_TRUE(result.has_value());
  return result.value_or(absl::InternalError("Fetch did not complete"));
}

class SourceFromEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = absl::StrCat(::testing::TempDir(), "/home_", getpid(), "_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(home_);
    std::filesystem::create_directories(home_);
    token_file_ = absl::StrCat(home_, "/oidc-token");
    std::ofstream(token_file_) << "oidc-token-VALUE\n";
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  void WriteProfileFile(const std::string& text) {
    std::filesystem::create_directories(absl::StrCat(home_, "/.alibabacloud"));
    std::ofstream(absl::StrCat(home_, "/.alibabacloud/credentials")) << text;
  }
  absl::StatusOr<std::unique_ptr<CredentialsSource>> Choose(
      std::map<std::string, std::string> env) {
    env.emplace("HOME", home_);
    SourceDeps deps;
    deps.transport = &transport_;
    deps.clock = &clock_;
    deps.env = MapEnvironment(std::move(env));
    return SourceFromEnvironment(deps);
  }
  std::map<std::string, std::string> Rrsa() const {
    return {{"ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/pod"},
            {"ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1:oidc-provider/ack"},
            {"ALIBABA_CLOUD_OIDC_TOKEN_FILE", token_file_}};
  }
  std::string Kind(const absl::StatusOr<std::unique_ptr<CredentialsSource>>& source) {
    return source.ok() ? (*source)->Kind() : absl::StrCat("error: ", source.status().ToString());
  }

  std::string home_;
  std::string token_file_;
  FakeHttpTransport transport_;
  ManualClock clock_{kNow};
};

constexpr char kAccessKeyProfile[] =
    "[default]\ntype = access_key\naccess_key_id = LTAI-profile\naccess_key_secret = p\n"
    "[other]\ntype = ecs_ram_role\n";

TEST_F(SourceFromEnvironmentTest, StaticEnvironmentWinsOverEverythingElse) {
  WriteProfileFile(kAccessKeyProfile);
  auto env = Rrsa();
  env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = "LTAI-env";
  env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "env-secret";
  env["ALIBABA_CLOUD_SECURITY_TOKEN"] = "env-token";
  auto source = Choose(env);
  ASSERT_EQ(Kind(source), "env");
  absl::StatusOr<Credentials> c = FetchNow(**source);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "LTAI-env");
  EXPECT_EQ(c->security_token, "env-token");
}

TEST_F(SourceFromEnvironmentTest, RrsaWinsOverProfileFileAndMetadata) {
  WriteProfileFile(kAccessKeyProfile);
  EXPECT_EQ(Kind(Choose(Rrsa())), "oidc_role_arn");
}

TEST_F(SourceFromEnvironmentTest, ProfileFileWhenItExists) {
  WriteProfileFile(kAccessKeyProfile);
  auto source = Choose({});
  ASSERT_EQ(Kind(source), "profile");
  EXPECT_EQ(FetchNow(**source)->access_key_id, "LTAI-profile");
  EXPECT_EQ(Kind(Choose({{"ALIBABA_CLOUD_PROFILE", "other"}})), "ecs_ram_role");
}

TEST_F(SourceFromEnvironmentTest, ExplicitCredentialsFileIsUsedOrAnError) {
  const std::string path = absl::StrCat(home_, "/elsewhere.ini");
  std::ofstream(path) << kAccessKeyProfile;
  EXPECT_EQ(Kind(Choose({{"ALIBABA_CLOUD_CREDENTIALS_FILE", path}})), "profile");
  auto missing = Choose({{"ALIBABA_CLOUD_CREDENTIALS_FILE", path + ".missing"}});
  EXPECT_THAT(missing.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(path + ".missing"));
  // A profile named without any file does not quietly become the instance role.
  EXPECT_THAT(Choose({{"ALIBABA_CLOUD_PROFILE", "prod"}}).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(SourceFromEnvironmentTest, BrokenProfileIsAnErrorNotAFallThrough) {
  WriteProfileFile("[default]\ntype = access_key\naccess_key_id = LTAI\n");
  EXPECT_THAT(Choose({}).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SourceFromEnvironmentTest, InstanceMetadataWhenNothingElseIsConfigured) {
  auto source = Choose({{"ALIBABA_CLOUD_ECS_METADATA", "NodeRole"}});
  ASSERT_EQ(Kind(source), "ecs_ram_role");
  transport_.SetHandler([](const HttpRequest&) { return Reply(500, ""); });
  (void)FetchNow(**source);
  EXPECT_EQ(transport_.requests()[0].url, "http://100.100.100.200/latest/api/token");
}

TEST_F(SourceFromEnvironmentTest, NothingUsableNamesEverythingLookedAt) {
  auto none = Choose({{"ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"}});
  EXPECT_THAT(none.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  const std::string message(none.status().message());
  for (const std::string& looked_at :
       {std::string("ALIBABA_CLOUD_ACCESS_KEY_ID"), std::string("ALIBABA_CLOUD_ROLE_ARN"),
        std::string("ALIBABA_CLOUD_OIDC_TOKEN_FILE"),
        absl::StrCat(home_, "/.alibabacloud/credentials"),
        std::string("ALIBABA_CLOUD_ECS_METADATA_DISABLED")}) {
    EXPECT_THAT(message, HasSubstr(looked_at));
  }
}

TEST_F(SourceFromEnvironmentTest, HalfConfiguredSourcesAreErrors) {
  auto rrsa = Rrsa();
  rrsa.erase("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
  auto half_rrsa = Choose(rrsa);
  EXPECT_THAT(half_rrsa.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(half_rrsa.status().message()),
              HasSubstr("ALIBABA_CLOUD_OIDC_TOKEN_FILE"));

  auto half_key = Choose({{"ALIBABA_CLOUD_ACCESS_KEY_SECRET", "lonely-secret-VALUE"}});
  EXPECT_THAT(half_key.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(half_key.status().message()), HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_ID"));
  EXPECT_THAT(std::string(half_key.status().message()), Not(HasSubstr("lonely-secret-VALUE")));
}

TEST_F(SourceFromEnvironmentTest, RrsaHonoursTheInjectedStsEndpoint) {
  auto env = Rrsa();
  env["ALIBABA_CLOUD_STS_ENDPOINT"] = "sts-vpc.cn-hangzhou.aliyuncs.com";
  auto source = Choose(env);
  ASSERT_EQ(Kind(source), "oidc_role_arn");
  transport_.SetHandler([](const HttpRequest&) { return Reply(503, ""); });
  (void)FetchNow(**source);
  EXPECT_TRUE(
      absl::StartsWith(transport_.requests()[0].url, "https://sts-vpc.cn-hangzhou.aliyuncs.com/?"));
}

TEST_F(SourceFromEnvironmentTest, FailedRrsaExchangeNeverFallsThroughToTheInstanceRole) {
  auto source = Choose(Rrsa());
  ASSERT_EQ(Kind(source), "oidc_role_arn");
  transport_.SetHandler([](const HttpRequest&) {
    return Reply(503, R"({"Code":"ServiceUnavailable","RequestId":"r"})");
  });
  for (int i = 0; i < 3; ++i) {
    const absl::Status status = FetchNow(**source).status();
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("oidc-token-VALUE")));
  }
  ASSERT_EQ(transport_.request_count(), 3u);
  for (const auto& r : transport_.requests()) {
    EXPECT_TRUE(absl::StartsWith(r.url, "https://sts.aliyuncs.com/")) << r.url;
    EXPECT_FALSE(absl::StrContains(r.url, "100.100.100.200")) << r.url;
  }
}

}  // namespace
}  // namespace otaverify

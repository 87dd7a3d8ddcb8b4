// EcsRamRoleSource against a scripted metadata service: hardened mode, token caching and
// renewal, IMDSv1 fallback rules, role discovery, proxy bypass, answers and their Expiration.
#include <cstdlib>
#include <ctime>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/credentials/ecs_ram_role_source.h"
#include "tests/testing/fake_http_transport.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::FakeHttpTransport;
using ::otaverify::testing::Reply;
using ::otaverify::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kBase[] = "http://100.100.100.200";
constexpr char kSecret[] = "ecs-secret-VALUE";
constexpr char kToken[] = "ecs-sts-token-VALUE";

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

std::string CredentialsJson(absl::string_view expiration, absl::string_view code = "Success") {
  return absl::StrCat(R"({"AccessKeyId":"STS.ecs-key","AccessKeySecret":")", kSecret,
                      R"(","SecurityToken":")", kToken, R"(","Expiration":")", expiration,
                      R"(","LastUpdated":"2017-11-01T23:20:01Z","Code":")", code, R"("})");
}

std::optional<std::string> Header(const HttpRequest& request, absl::string_view name) {
  for (const auto& [n, v] : request.headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

// A metadata service: issues numbered tokens, may require one, may refuse the PUT.
class FakeImds {
 public:
  bool token_put_works = true;
  bool require_token = false;
  std::string role = "OtaVerifyRole";
  std::string credentials = CredentialsJson("2017-11-01T05:20:01Z");

  void Attach(FakeHttpTransport& transport) {
    transport.SetHandler([this](const HttpRequest& r) { return Answer(r); });
  }
  void RevokeTokens() {
    absl::MutexLock lock(&mu_);
    valid_tokens_.clear();
  }

 private:
  absl::StatusOr<HttpResponse> Answer(const HttpRequest& r) {
    absl::MutexLock lock(&mu_);
    const std::string path = r.url.substr(std::string(kBase).size());
    if (r.method == "PUT" && path == "/latest/api/token") {
      if (!token_put_works) return Reply(404, "not found");
      std::string token = absl::StrCat("imds-token-", ++issued_);
      valid_tokens_.insert(token);
      return Reply(200, token);
    }
    if (r.method != "GET") return Reply(405, "");
    const std::optional<std::string> token = Header(r, "X-aliyun-ecs-metadata-token");
    if (token.has_value() && valid_tokens_.count(*token) == 0) return Reply(401, "");
    if (require_token && !token.has_value()) return Reply(401, "");
    if (path == "/latest/meta-data/ram/security-credentials/") {
      return role.empty() ? Reply(404, "") : Reply(200, absl::StrCat(role, "\n"));
    }
    if (path == absl::StrCat("/latest/meta-data/ram/security-credentials/", role)) {
      return Reply(200, credentials);
    }
    return Reply(404, "");
  }

  absl::Mutex mu_;
  int issued_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> valid_tokens_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<Credentials> FetchNow(CredentialsSource& source, absl::Time now) {
  std::optional<absl::StatusOr<Credentials>> result;
  source.Fetch(now, [&](absl::StatusOr<Credentials> r) { result = std::move(r); });
  EXPECT_TRUE(result.has_value()) << "Fetch did not complete";
  return result.value_or(absl::InternalError("Fetch did not complete"));
}

class EcsRamRoleSourceTest : public ::testing::Test {
 protected:
  std::unique_ptr<EcsRamRoleSource> Make(EcsRamRoleSource::Options options = {}) {
    imds_.Attach(transport_);
    auto source = EcsRamRoleSource::Create(&transport_, std::move(options), &clock_);
    EXPECT_TRUE(source.ok()) << source.status();
    return *std::move(source);
  }
  int Puts() const {
    int n = 0;
    for (const auto& r : transport_.requests()) n += r.method == "PUT";
    return n;
  }

  FakeHttpTransport transport_;
  FakeImds imds_;
  ManualClock clock_{kStart};
};

void ExpectNoSecrets(const absl::Status& status) {
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kSecret)));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kToken)));
}

TEST_F(EcsRamRoleSourceTest, FetchesCredentialsInHardenedMode) {
  auto source = Make();
  absl::StatusOr<Credentials> c = FetchNow(*source, kStart);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "STS.ecs-key");
  EXPECT_EQ(c->access_key_secret, kSecret);
  EXPECT_EQ(c->security_token, kToken);
  EXPECT_EQ(c->expiration,
            absl::FromCivil(absl::CivilSecond(2017, 11, 1, 5, 20, 1), absl::UTCTimeZone()));
  EXPECT_EQ(c->source, "ecs_ram_role");
  EXPECT_EQ(source->Kind(), "ecs_ram_role");

  const auto requests = transport_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].url, "http://100.100.100.200/latest/api/token");
  EXPECT_EQ(Header(requests[0], "X-aliyun-ecs-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(requests[1].url, "http://100.100.100.200/latest/meta-data/ram/security-credentials/");
  EXPECT_EQ(requests[2].url,
            "http://100.100.100.200/latest/meta-data/ram/security-credentials/OtaVerifyRole");
  for (size_t i = 1; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].method, "GET");
    EXPECT_EQ(Header(requests[i], "X-aliyun-ecs-metadata-token"), "imds-token-1");
  }
}

TEST_F(EcsRamRoleSourceTest, EveryRequestBypassesProxiesWithinOneSecond) {
  imds_.token_put_works = false;  // the fallback GETs too
  auto source = Make();
  ASSERT_TRUE(FetchNow(*source, kStart).ok());
  imds_.token_put_works = true;
  ASSERT_TRUE(FetchNow(*source, kStart).ok());
  ASSERT_GE(transport_.request_count(), 6u);
  for (const auto& r : transport_.requests()) {
    EXPECT_TRUE(r.no_proxy) << r.method << " " << r.url;
    EXPECT_EQ(r.timeout, absl::Seconds(1)) << r.url;
  }
}

TEST_F(EcsRamRoleSourceTest, TokenIsCachedAndReused) {
  auto source = Make();
  ASSERT_TRUE(FetchNow(*source, kStart).ok());
  clock_.Advance(absl::Hours(5));
  ASSERT_TRUE(FetchNow(*source, clock_.Now()).ok());
  EXPECT_EQ(Puts(), 1);
  for (const auto& r : transport_.requests()) {
    if (r.method == "GET") {
      EXPECT_EQ(Header(r, "X-aliyun-ecs-metadata-token"), "imds-token-1");
    }
  }
}

TEST_F(EcsRamRoleSourceTest, TokenIsRenewedBeforeItsTtlRunsOut) {
  auto source = Make();
  ASSERT_TRUE(FetchNow(*source, kStart).ok());
  clock_.Advance(absl::Hours(6) - absl::Minutes(1));  // inside the renewal margin
  ASSERT_TRUE(FetchNow(*source, clock_.Now()).ok());
  EXPECT_EQ(Puts(), 2);
  EXPECT_EQ(Header(transport_.requests().back(), "X-aliyun-ecs-metadata-token"), "imds-token-2");
}

TEST_F(EcsRamRoleSourceTest, RejectedTokenIsDroppedAndTheFetchStartsOverOnce) {
  auto source = Make();
  ASSERT_TRUE(FetchNow(*source, kStart).ok());
  imds_.RevokeTokens();  // e.g. the instance restarted its metadata service
  absl::StatusOr<Credentials> c = FetchNow(*source, kStart + absl::Minutes(1));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Puts(), 2);
  EXPECT_EQ(Header(transport_.requests().back(), "X-aliyun-ecs-metadata-token"), "imds-token-2");
}

TEST_F(EcsRamRoleSourceTest, FallsBackToTokenlessOnlyWhenAllowed) {
  imds_.token_put_works = false;
  auto allowed = Make();
  absl::StatusOr<Credentials> c = FetchNow(*allowed, kStart);
  ASSERT_TRUE(c.ok()) << c.status();
  for (const auto& r : transport_.requests()) {
    if (r.method == "GET") {
      EXPECT_FALSE(Header(r, "X-aliyun-ecs-metadata-token").has_value());
    }
  }

  transport_.ClearRequests();
  EcsRamRoleSource::Options options;
  options.imdsv1_disabled = true;
  auto disabled = Make(options);
  absl::StatusOr<Credentials> refused = FetchNow(*disabled, kStart);
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("IMDSV1_DISABLED"));
  ASSERT_EQ(transport_.request_count(), 1u);  // the PUT only, no token-less GET
  EXPECT_EQ(transport_.requests()[0].method, "PUT");
}

TEST_F(EcsRamRoleSourceTest, TokenTransportFailureFallsBackOrFailsUnavailable) {
  transport_.Push(absl::DeadlineExceededError("timed out"));
  auto allowed = Make();
  EXPECT_TRUE(FetchNow(*allowed, kStart).ok());

  EcsRamRoleSource::Options options;
  options.imdsv1_disabled = true;
  auto disabled = Make(options);
  transport_.Push(absl::DeadlineExceededError("timed out"));
  EXPECT_THAT(FetchNow(*disabled, kStart).status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(EcsRamRoleSourceTest, InstanceRequiringHardenedModeWithoutTokenIsFailedPrecondition) {
  imds_.token_put_works = false;
  imds_.require_token = true;
  auto source = Make();
  EXPECT_THAT(FetchNow(*source, kStart).status(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(EcsRamRoleSourceTest, ConfiguredRoleIsNotDiscovered) {
  imds_.role = "ConfiguredRole";
  EcsRamRoleSource::Options options;
  options.role_name = "ConfiguredRole";
  auto source = Make(options);
  ASSERT_TRUE(FetchNow(*source, kStart).ok());
  for (const auto& r : transport_.requests()) {
    EXPECT_FALSE(absl::EndsWith(r.url, "/security-credentials/")) << r.url;
  }
  EXPECT_TRUE(absl::EndsWith(transport_.requests().back().url, "/ConfiguredRole"));
}

TEST_F(EcsRamRoleSourceTest, NoAttachedRoleIsFailedPrecondition) {
  imds_.role = "";
  auto source = Make();
  EXPECT_THAT(FetchNow(*source, kStart).status(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(EcsRamRoleSourceTest, CodeOtherThanSuccessIsUnavailableAndNamesTheCode) {
  imds_.credentials = CredentialsJson("2017-11-01T05:20:01Z", "RoleNotReady");
  auto source = Make();
  const absl::Status status = FetchNow(*source, kStart).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(status.message()), HasSubstr("RoleNotReady"));
  ExpectNoSecrets(status);
}

TEST_F(EcsRamRoleSourceTest, MalformedAnswerIsInvalidArgumentWithoutSecrets) {
  imds_.credentials = CredentialsJson("next tuesday");
  auto source = Make();
  const absl::Status status = FetchNow(*source, kStart).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  ExpectNoSecrets(status);
  imds_.credentials = "<html>";
  EXPECT_THAT(FetchNow(*source, kStart).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(EcsRamRoleSourceTest, ServerErrorsAndNetworkFailuresAreUnavailable) {
  auto source = Make();
  transport_.Push(Reply(200, "imds-token-x"));
  transport_.Push(Reply(503, ""));
  EXPECT_THAT(FetchNow(*source, kStart).status(), StatusIs(absl::StatusCode::kUnavailable));
  transport_.Push(absl::UnavailableError("connection refused"));  // role discovery
  EXPECT_THAT(FetchNow(*source, kStart).status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(EcsRamRoleSourceTest, AcceptsFractionalSecondExpiration) {
  imds_.credentials = CredentialsJson("2017-11-01T05:20:01.250Z");
  auto source = Make();
  absl::StatusOr<Credentials> c = FetchNow(*source, kStart);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->expiration,
            absl::FromCivil(absl::CivilSecond(2017, 11, 1, 5, 20, 1), absl::UTCTimeZone()) +
                absl::Milliseconds(250));
}

// Sets TZ for the test's duration and restores it.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    const char* old = std::getenv("TZ");
    if (old != nullptr) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (old_.has_value()) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  std::optional<std::string> old_;
};

TEST_F(EcsRamRoleSourceTest, ExpirationIsUtcWhateverTheLocalTimeZone) {
  const absl::Time expected =
      absl::FromCivil(absl::CivilSecond(2017, 11, 1, 5, 20, 1), absl::UTCTimeZone());
  auto source = Make();
  for (const char* tz : {"Asia/Shanghai", "America/New_York", "UTC"}) {
    ScopedTimeZone scoped(tz);
    // The zone took effect: local midnight of the epoch is not 1970-01-01 00:00 there.
    if (std::string(tz) != "UTC") {
      std::time_t epoch = 0;
      std::tm local{};
      localtime_r(&epoch, &local);
      ASSERT_NE(local.tm_hour, 0) << tz;
    }
    absl::StatusOr<Credentials> c = FetchNow(*source, kStart);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->expiration, expected) << tz;
  }
}

TEST_F(EcsRamRoleSourceTest, OptionsFromEnvironment) {
  const auto options = EcsRamRoleSource::OptionsFromEnvironment(
      MapEnvironment({{"ALIBABA_CLOUD_IMDS_ENDPOINT", "127.0.0.1:18081"},
                      {"ALIBABA_CLOUD_ECS_METADATA", "EnvRole"},
                      {"ALIBABA_CLOUD_IMDSV1_DISABLED", "TRUE"}}));
  EXPECT_EQ(options.imds_base_url, "127.0.0.1:18081");
  EXPECT_EQ(options.role_name, "EnvRole");
  EXPECT_TRUE(options.imdsv1_disabled);

  const auto defaults = EcsRamRoleSource::OptionsFromEnvironment(MapEnvironment({}));
  EXPECT_EQ(defaults.imds_base_url, "http://100.100.100.200");
  EXPECT_TRUE(defaults.role_name.empty());
  EXPECT_FALSE(defaults.imdsv1_disabled);

  // A bare host means plain http.
  auto source = EcsRamRoleSource::Create(&transport_, options, &clock_);
  ASSERT_TRUE(source.ok());
  transport_.SetHandler([](const HttpRequest&) { return Reply(500, ""); });
  (void)FetchNow(**source, kStart);
  EXPECT_EQ(transport_.requests()[0].url, "http://127.0.0.1:18081/latest/api/token");
}

TEST_F(EcsRamRoleSourceTest, MalformedEndpointIsRejectedAtCreation) {
  EcsRamRoleSource::Options options;
  options.imds_base_url = "http://100.100.100.200/latest";
  EXPECT_THAT(EcsRamRoleSource::Create(&transport_, options, &clock_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace otaverify

// StaticSource, EnvironmentCredentials and the Environment seam.
#include <cstdlib>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/credentials/environment.h"
#include "service/credentials/static_source.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<Credentials> FetchNow(CredentialsSource& source) {
  std::optional<absl::StatusOr<Credentials>> result;
  source.Fetch(absl::UnixEpoch(), [&](absl::StatusOr<Credentials> r) { result = std::move(r); });
  EXPECT_TRUE(result.has_value());
  return result.value_or(absl::InternalError("Fetch did not complete"));
}

TEST(StaticSource, HandsOutItsCredentialsForever) {
  StaticSource source(Credentials{"LTAI-id", "the-secret", "", absl::InfiniteFuture(), "static"});
  absl::StatusOr<Credentials> c = FetchNow(source);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "LTAI-id");
  EXPECT_EQ(c->access_key_secret, "the-secret");
  EXPECT_EQ(c->expiration, absl::InfiniteFuture());
  EXPECT_EQ(source.Kind(), "static");
  EXPECT_EQ(source.RecheckInterval(), absl::InfiniteDuration());
}

TEST(StaticSource, KindDefaultsToStatic) {
  StaticSource source(Credentials{"id", "secret", "", absl::InfiniteFuture(), ""});
  EXPECT_EQ(source.Kind(), "static");
  EXPECT_EQ(FetchNow(source)->source, "static");
}

// Sets (or unsets) a process variable for a test's duration.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(StaticSource, EnvironmentCredentialsReadsTheProcessEnvironment) {
  ScopedEnv id("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-env");
  ScopedEnv secret("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret");
  ScopedEnv token("ALIBABA_CLOUD_SECURITY_TOKEN", "env-token");
  auto source = EnvironmentCredentials();
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Kind(), "env");
  absl::StatusOr<Credentials> c = FetchNow(**source);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "LTAI-env");
  EXPECT_EQ(c->access_key_secret, "env-secret");
  EXPECT_EQ(c->security_token, "env-token");
}

TEST(StaticSource, EnvironmentCredentialsNamesWhatIsMissing) {
  ScopedEnv id("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-env");
  ScopedEnv secret("ALIBABA_CLOUD_ACCESS_KEY_SECRET", nullptr);
  auto source = EnvironmentCredentials();
  EXPECT_THAT(source.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));
}

TEST(CredentialsEnvironment, MapEnvironmentIsHermetic) {
  const Environment env = MapEnvironment({{"ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-map"},
                                          {"ALIBABA_CLOUD_ACCESS_KEY_SECRET", "map-secret"},
                                          {"FLAG", "True"}});
  EXPECT_EQ(env("ALIBABA_CLOUD_ACCESS_KEY_ID"), "LTAI-map");
  EXPECT_EQ(env("PATH"), "");
  EXPECT_TRUE(EnvironmentFlag(env, "FLAG"));
  EXPECT_FALSE(EnvironmentFlag(env, "MISSING"));
  absl::StatusOr<Credentials> c = CredentialsFromEnvironment(env);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "LTAI-map");
  EXPECT_EQ(c->security_token, "");
  EXPECT_EQ(c->source, "env");
}

TEST(CredentialsEnvironment, EmptySecretIsMissingAndNeverEchoed) {
  const Environment env =
      MapEnvironment({{"ALIBABA_CLOUD_ACCESS_KEY_ID", ""},
                      {"ALIBABA_CLOUD_ACCESS_KEY_SECRET", "only-the-secret-VALUE"}});
  absl::StatusOr<Credentials> c = CredentialsFromEnvironment(env);
  EXPECT_THAT(c.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_ID"));
  EXPECT_THAT(std::string(c.status().message()), Not(HasSubstr("only-the-secret-VALUE")));
}

}  // namespace
}  // namespace otaverify

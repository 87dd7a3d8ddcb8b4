// Expiration timestamps of credential answers: UTC whatever the local zone.
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/credentials/credential_answer.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::StatusIs;

const absl::Time kExpected =
    absl::FromCivil(absl::CivilSecond(2017, 11, 1, 5, 20, 1), absl::UTCTimeZone());

TEST(CredentialsExpiration, WithAndWithoutFraction) {
  EXPECT_EQ(*ParseExpiration("2017-11-01T05:20:01Z"), kExpected);
  EXPECT_EQ(*ParseExpiration("2017-11-01T05:20:01.5Z"), kExpected + absl::Milliseconds(500));
  EXPECT_EQ(*ParseExpiration("2017-11-01T13:20:01+08:00"), kExpected);
}

TEST(CredentialsExpiration, SameInstantUnderEveryLocalZone) {
  std::optional<std::string> old;
  if (const char* tz = std::getenv("TZ")) old = tz;
  for (const char* tz : {"Asia/Shanghai", "America/New_York"}) {
    setenv("TZ", tz, 1);
    tzset();
    EXPECT_EQ(*ParseExpiration("2017-11-01T05:20:01Z"), kExpected) << tz;
    EXPECT_EQ(*ParseExpiration("2017-11-01T05:20:01.000Z"), kExpected) << tz;
  }
  if (old.has_value()) {
    setenv("TZ", old->c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
}

TEST(CredentialsExpiration, MalformedIsInvalidArgument) {
  for (const char* text : {"", "2017-11-01", "2017-11-01 05:20:01", "tomorrow"}) {
    EXPECT_THAT(ParseExpiration(text).status(), StatusIs(absl::StatusCode::kInvalidArgument))
        << text;
  }
}

}  // namespace
}  // namespace otaverify

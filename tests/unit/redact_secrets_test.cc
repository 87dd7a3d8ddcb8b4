#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/credentials/credentials.h"

namespace otaverify {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Credentials Sts() {
  Credentials c;
  c.access_key_id = "STS.id";
  c.access_key_secret = "se/cr+et=";
  c.security_token = "to/ke+n=";
  return c;
}

TEST(RedactSecrets, RemovesRawOnceAndTwiceEncodedForms) {
  const std::string text =
      "raw se/cr+et= to/ke+n= once to%2Fke%2Bn%3D twice to%252Fke%252Bn%253D end";
  const std::string redacted = RedactSecrets(text, Sts());
  EXPECT_THAT(redacted, Not(HasSubstr("se/cr+et=")));
  EXPECT_THAT(redacted, Not(HasSubstr("to/ke+n=")));
  EXPECT_THAT(redacted, Not(HasSubstr("to%2Fke%2Bn%3D")));
  EXPECT_THAT(redacted, Not(HasSubstr("to%252Fke%252Bn%253D")));
  EXPECT_EQ(redacted,
            "raw <redacted> <redacted> once <redacted> twice <redacted> end");
}

TEST(RedactSecrets, LeavesTextWithoutSecretsAndTheKeyIdAlone) {
  EXPECT_EQ(RedactSecrets("AccessKeyId=STS.id&x=1", Sts()), "AccessKeyId=STS.id&x=1");
}

TEST(CredentialsDescribe, ShowsOnlyAKeyIdPrefixAndTheSource) {
  Credentials c = Sts();
  c.access_key_id = "LTAI5tVeryLongKeyId";
  c.source = "ecs_ram_role";
  const std::string described = c.Describe();
  EXPECT_THAT(described, HasSubstr("LTAI5tVe"));
  EXPECT_THAT(described, Not(HasSubstr("LTAI5tVeryLongKeyId")));
  EXPECT_THAT(described, Not(HasSubstr("se/cr")));
  EXPECT_THAT(described, Not(HasSubstr("to/ke")));
  EXPECT_THAT(described, HasSubstr("ecs_ram_role"));
}

}  // namespace
}  // namespace otaverify

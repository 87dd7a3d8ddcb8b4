// Inputs the fuzz targets (tests/fuzz/) found to break a property, each pinned here so the
// normal test run keeps them fixed. The same inputs are in the fuzz seed corpora as
// regression-* files.
#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "service/aliyun/error_mapping.h"
#include "service/server/config.h"
#include "service/server/profiles.h"
#include "service/status/rich_status.h"
#include "tests/testing/status_matchers.h"

ABSL_FLAG(int64_t, fuzz_regression_count, 7, "A 64-bit integer flag a config file may set");

namespace otaverify {
namespace {

using ::otaverify::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct config;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &config).ok()) << text;
  return config;
}

// fuzz_upstream_reply: an XML error body whose Message is not UTF-8 (a proxy's page in a
// legacy charset) went into the ErrorInfo as is, and a proto3 string that is not UTF-8 does
// not parse: the caller lost the reason and every detail.
TEST(ReadUpstreamReply, XmlErrorWithMalformedUtf8KeepsAReadableErrorInfo) {
  HttpResponse response;
  response.status = 400;
  response.body = std::string(
      "<Error><RequestId>R4</RequestId><Code>Throttling.User</Code>"
      "<Message>slow \x80\xff down \xe8\xae</Message></Error>");
  const UpstreamReply reply = ReadUpstreamReply(response, {"QueryOTAFirmware", true, nullptr});
  EXPECT_THAT(reply.status, StatusIs(absl::StatusCode::kResourceExhausted));
  const auto info = GetDetail<google::rpc::ErrorInfo>(reply.status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "UPSTREAM_THROTTLED");
  EXPECT_EQ(info->metadata().at("upstream_message"),
            "slow \xEF\xBF\xBD\xEF\xBF\xBD down \xEF\xBF\xBD\xEF\xBF\xBD");
}

// fuzz_upstream_reply: only the upstream Message was redacted; a Code or RequestId echoing the
// signing secret or the security token reached the status message and the ErrorInfo.
TEST(ReadUpstreamReply, SecretsEchoedInCodeOrRequestIdAreRedacted) {
  Credentials credentials;
  credentials.access_key_id = "id";
  credentials.access_key_secret = "SecretKey0123456789";
  credentials.security_token = "Token/With+Specials=";
  HttpResponse response;
  response.status = 400;
  response.body =
      R"({"RequestId":"R-SecretKey0123456789","Code":"Signature.Token%252FWith%252BSpecials%253D"})";
  const UpstreamReply reply =
      ReadUpstreamReply(response, {"CreateOTAVerifyJob", false, &credentials});
  ASSERT_FALSE(reply.status.ok());
  for (const char* secret :
       {"SecretKey0123456789", "Token/With+Specials=", "Token%252FWith%252BSpecials%253D"}) {
    EXPECT_THAT(std::string(reply.status.message()), Not(HasSubstr(secret)));
    const auto info = GetDetail<google::rpc::ErrorInfo>(reply.status);
    ASSERT_TRUE(info.has_value());
    for (const auto& [key, value] : info->metadata()) {
      EXPECT_THAT(value, Not(HasSubstr(secret))) << key;
    }
  }
  EXPECT_EQ(reply.request_id, "R-<redacted>");
}

// fuzz_config: a number beyond long long's range was converted to one (undefined behaviour;
// on x86 it became -9223372036854775808 and set the flag to that).
TEST(ApplyConfigFlags, NumberBeyondIntegerRangeIsNotTakenAsAnInteger) {
  absl::SetFlag(&FLAGS_fuzz_regression_count, 7);
  const absl::Status status =
      ApplyConfigFlags(Json(R"({"fuzz_regression_count": 1e300})"), "config.json", {});
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("fuzz_regression_count"));
  EXPECT_EQ(absl::GetFlag(FLAGS_fuzz_regression_count), 7);
}

TEST(ApplyConfigFlags, WholeNumbersInRangeStillSetIntegerFlags) {
  EXPECT_TRUE(ApplyConfigFlags(Json(R"({"fuzz_regression_count": -9.2e18})"), "config.json", {})
                  .ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_fuzz_regression_count), -9200000000000000000);
}

// fuzz_config: the same conversion in a profile's settings.
TEST(ParseProfiles, NumberBeyondIntegerRangeIsInvalid) {
  const auto profiles = ParseProfiles(Json(
      R"({"profiles": {"default": {"credentials": "ecs_ram_role", "role_name": 1e300}}})"));
  EXPECT_THAT(profiles.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(profiles.status().message()), HasSubstr("role_name"));
}

}  // namespace
}  // namespace otaverify

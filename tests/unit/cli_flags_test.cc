// Tests of the CLI's flag syntax (client/cli_flags.h).
#include "client/cli_flags.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace otaverify {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::vector<CliFlagSpec>& Specs() {
  static const auto* const kSpecs = new std::vector<CliFlagSpec>{
      {"name", CliFlagType::kString, false, "", "NAME", "a string"},
      {"device", CliFlagType::kString, true, "", "NAME", "repeatable"},
      {"json", CliFlagType::kBool, false, "", "", "a bool"},
      {"count", CliFlagType::kInt32, false, "", "N", "an int"},
      {"deadline", CliFlagType::kDuration, false, "10s", "DURATION", "with a default"},
  };
  return *kSpecs;
}

absl::StatusOr<CliFlags> Parse(std::vector<std::string> args) {
  return ParseCliFlags(Specs(), args);
}

TEST(CliArgs, SpaceAndEqualsFormsAreEquivalent) {
  absl::StatusOr<CliFlags> spaced = Parse({"--name", "x=y"});
  absl::StatusOr<CliFlags> equals = Parse({"--name=x=y"});
  ASSERT_TRUE(spaced.ok()) << spaced.status();
  ASSERT_TRUE(equals.ok()) << equals.status();
  EXPECT_EQ(spaced->Get<std::string>("name"), "x=y");
  EXPECT_EQ(equals->Get<std::string>("name"), "x=y");
}

TEST(CliArgs, RepeatedDeviceFlagsAccumulate) {
  absl::StatusOr<CliFlags> flags = Parse({"--device", "D1", "--device=D2", "--device", "D3"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_THAT(flags->GetAll<std::string>("device"), ElementsAre("D1", "D2", "D3"));
}

TEST(CliArgs, NonRepeatableFlagGivenTwiceIsUsageError) {
  absl::StatusOr<CliFlags> flags = Parse({"--name", "a", "--name", "b"});
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(flags.status().message(), HasSubstr("--name"));
}

TEST(CliArgs, BareBoolMeansTrueAndDoesNotConsumeNextArgument) {
  absl::StatusOr<CliFlags> flags = Parse({"--json", "operand"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->Get<bool>("json"), true);
  EXPECT_THAT(flags->positional(), ElementsAre("operand"));
}

TEST(CliArgs, BoolAcceptsExplicitTrueAndFalse) {
  EXPECT_EQ(Parse({"--json=false"})->Get<bool>("json"), false);
  EXPECT_EQ(Parse({"--json=true"})->Get<bool>("json"), true);
  EXPECT_EQ(Parse({"--json=FALSE"})->Get<bool>("json"), false);
}

TEST(CliArgs, BadBoolIsUsageErrorNamingTheFlag) {
  absl::StatusOr<CliFlags> flags = Parse({"--json=yes please"});
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(flags.status().message(), HasSubstr("--json"));
}

TEST(CliArgs, IntAndDurationAreParsed) {
  absl::StatusOr<CliFlags> flags = Parse({"--count", "-7", "--deadline=500ms"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->Get<int32_t>("count"), -7);
  EXPECT_EQ(flags->Get<absl::Duration>("deadline"), absl::Milliseconds(500));
}

TEST(CliArgs, BadIntIsUsageErrorNamingTheFlag) {
  for (const char* bad : {"ten", "1.5", "99999999999"}) {
    absl::StatusOr<CliFlags> flags = Parse({"--count", bad});
    EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(flags.status().message(), HasSubstr("--count")) << bad;
  }
}

TEST(CliArgs, BadDurationIsUsageErrorNamingTheFlag) {
  absl::StatusOr<CliFlags> flags = Parse({"--deadline", "10"});
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(flags.status().message(), HasSubstr("--deadline"));
}

TEST(CliArgs, UnknownFlagIsUsageErrorNamingTheFlag) {
  absl::StatusOr<CliFlags> flags = Parse({"--devices", "D1"});
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(flags.status().message(), HasSubstr("--devices"));
}

TEST(CliArgs, MissingValueAtEndIsUsageError) {
  absl::StatusOr<CliFlags> flags = Parse({"--name"});
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(flags.status().message(), HasSubstr("--name: missing value"));
}

TEST(CliArgs, FlagIsNotTakenAsTheValueOfAnother) {
  absl::StatusOr<CliFlags> flags = Parse({"--name", "--json"});
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(flags.status().message(), HasSubstr("--name: missing value"));
}

TEST(CliArgs, EqualsFormAllowsValuesThatLookLikeFlags) {
  absl::StatusOr<CliFlags> flags = Parse({"--name=--odd"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->Get<std::string>("name"), "--odd");
}

TEST(CliArgs, EmptyValueIsKeptNotMissing) {
  absl::StatusOr<CliFlags> flags = Parse({"--name="});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->Get<std::string>("name"), "");
}

TEST(CliArgs, AbsentFlagsStayUnsetUnlessDefaulted) {
  absl::StatusOr<CliFlags> flags = Parse({});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_FALSE(flags->Has("json"));
  EXPECT_EQ(flags->Get<bool>("json"), std::nullopt);
  EXPECT_EQ(flags->Get<int32_t>("count"), std::nullopt);
  EXPECT_THAT(flags->GetAll<std::string>("device"), IsEmpty());
  EXPECT_EQ(flags->Get<absl::Duration>("deadline"), absl::Seconds(10));
}

TEST(CliArgs, GivenValueOverridesDefault) {
  EXPECT_EQ(Parse({"--deadline=1m"})->Get<absl::Duration>("deadline"), absl::Minutes(1));
}

TEST(CliArgs, HelpIsFoundAnywhereButNotAsAFlagValue) {
  EXPECT_TRUE(WantsHelp(Specs(), std::vector<std::string>{"--bogus", "--help"}));
  EXPECT_TRUE(WantsHelp(Specs(), std::vector<std::string>{"-h"}));
  EXPECT_FALSE(WantsHelp(Specs(), std::vector<std::string>{"--device", "-h"}));
  EXPECT_FALSE(WantsHelp(Specs(), std::vector<std::string>{"--name=--help"}));
}

TEST(CliArgs, HelpTextListsEveryFlagWithDefaults) {
  const std::string help = FormatCliFlagsHelp(Specs());
  EXPECT_THAT(help, HasSubstr("--device NAME"));
  EXPECT_THAT(help, HasSubstr("(repeatable)"));
  EXPECT_THAT(help, HasSubstr("--json[=true|false]"));
  EXPECT_THAT(help, HasSubstr("[default: 10s]"));
}

}  // namespace
}  // namespace otaverify

// The credentials file: the ini dialect, and the source each profile type builds (once).
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
#include "service/credentials/credentials_ini.h"
#include "service/credentials/profile_source.h"
#include "tests/testing/fake_http_transport.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::FakeHttpTransport;
using ::otaverify::testing::Reply;
using ::otaverify::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1715000000);

absl::StatusOr<Credentials> FetchNow(CredentialsSource& source) {
  std::optional<absl::StatusOr<Credentials>> result;
  source.Fetch(kNow, [&](absl::StatusOr<Credentials> r) { result = std::move(r); });
  EXPECT_TRUE(result.has_value());
  return result.value_or(absl::InternalError("Fetch did not complete"));
}

constexpr char kStsSuccess[] =
    R"({"RequestId":"r","Credentials":{"AccessKeyId":"STS.k","AccessKeySecret":"s","SecurityToken":"t","Expiration":"2024-05-06T08:08:09Z"}})";

TEST(CredentialsIni, ParsesSectionsKeysAndComments) {
  absl::StatusOr<CredentialsIni> ini = ParseCredentialsIni(
      "\xEF\xBB\xBF# a comment\n"
      "[default]\n"
      "type = access_key\n"
      "access_key_id=LTAI-1\r\n"
      "  access_key_secret =  se#cr;et=with=equals  \n"
      "\n"
      "; another comment\n"
      "[ prod ]\n"
      "type = ecs_ram_role\n");
  ASSERT_TRUE(ini.ok()) << ini.status();
  EXPECT_THAT(ini->at("default"), ElementsAre(Pair("access_key_id", "LTAI-1"),
                                              Pair("access_key_secret", "se#cr;et=with=equals"),
                                              Pair("type", "access_key")));
  EXPECT_THAT(ini->at("prod"), ElementsAre(Pair("type", "ecs_ram_role")));
}

TEST(CredentialsIni, MalformedLinesNameTheLineNotItsContent) {
  for (const char* text :
       {"key = outside\n", "[default]\nsecret-VALUE-without-equals\n", "[default]\n[default]\n",
        "[default]\na = 1\na = 2\n", "[open\n", "[default]\n= secret-VALUE\n"}) {
    absl::StatusOr<CredentialsIni> ini = ParseCredentialsIni(text);
    EXPECT_THAT(ini.status(), StatusIs(absl::StatusCode::kInvalidArgument)) << text;
    EXPECT_THAT(std::string(ini.status().message()), HasSubstr("line ")) << text;
    EXPECT_THAT(std::string(ini.status().message()), Not(HasSubstr("secret-VALUE"))) << text;
  }
}

class ProfileTest : public ::testing::Test {
 protected:
  SourceDeps Deps(std::map<std::string, std::string> env = {}) {
    SourceDeps deps;
    deps.transport = &transport_;
    deps.clock = &clock_;
    deps.env = MapEnvironment(std::move(env));
    return deps;
  }
  absl::StatusOr<std::unique_ptr<CredentialsSource>> Profile(const std::string& text,
                                                             const std::string& name,
                                                             SourceDeps deps) {
    absl::StatusOr<CredentialsIni> ini = ParseCredentialsIni(text);
    EXPECT_TRUE(ini.ok()) << ini.status();
    return ProfileFromIni(*ini, name, deps);
  }

  FakeHttpTransport transport_;
  ManualClock clock_{kNow};
};

TEST_F(ProfileTest, AccessKeyProfile) {
  auto source = Profile(
      "[default]\ntype = access_key\naccess_key_id = LTAI-p\n"
      "access_key_secret = p-secret\n",
      "default", Deps());
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<Credentials> c = FetchNow(**source);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "LTAI-p");
  EXPECT_EQ(c->access_key_secret, "p-secret");
  EXPECT_EQ(transport_.request_count(), 0u);
}

TEST_F(ProfileTest, EcsRamRoleProfileUsesItsRoleName) {
  auto source = Profile("[node]\ntype = ecs_ram_role\nrole_name = NodeRole\n", "node",
                        Deps({{"ALIBABA_CLOUD_IMDS_ENDPOINT", "http://127.0.0.1:9"}}));
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Kind(), "ecs_ram_role");
  transport_.SetHandler([](const HttpRequest& r) {
    if (r.method == "PUT") return Reply(200, "tok");
    return Reply(200, R"({"AccessKeyId":"STS.n","AccessKeySecret":"s","SecurityToken":"t",)"
                      R"("Expiration":"2024-05-06T08:08:09Z","Code":"Success"})");
  });
  ASSERT_TRUE(FetchNow(**source).ok());
  EXPECT_EQ(transport_.requests().back().url,
            "http://127.0.0.1:9/latest/meta-data/ram/security-credentials/NodeRole");
}

TEST_F(ProfileTest, RamRoleArnProfileSignsWithItsAccessKey) {
  auto source = Profile(
      "[cross]\ntype = ram_role_arn\naccess_key_id = LTAI-src\naccess_key_secret = src-secret\n"
      "role_arn = acs:ram::9:role/cross\nrole_session_name = cross-session\n"
      "external_id = ext\nduration_seconds = 1200\nsts_region = cn-shanghai\n",
      "cross", Deps());
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Kind(), "ram_role_arn");
  transport_.SetHandler([](const HttpRequest&) { return Reply(200, kStsSuccess); });
  ASSERT_TRUE(FetchNow(**source).ok());
  ASSERT_TRUE(FetchNow(**source).ok());
  const auto requests = transport_.requests();
  ASSERT_EQ(requests.size(), 2u);  // one STS call per fetch, nothing rebuilt per call
  const std::string& url = requests[0].url;
  EXPECT_THAT(url, StartsWith("https://sts.cn-shanghai.aliyuncs.com/?"));
  for (const char* part : {"Action=AssumeRole", "AccessKeyId=LTAI-src", "ExternalId=ext",
                           "DurationSeconds=1200", "RoleSessionName=cross-session", "Signature="}) {
    EXPECT_THAT(url, HasSubstr(part));
  }
}

TEST_F(ProfileTest, OidcRoleArnProfileReadsItsTokenFile) {
  const std::string token_file =
      absl::StrCat(::testing::TempDir(), "/profile_oidc_token_", getpid());
  std::ofstream(token_file) << "profile-oidc-token\n";
  auto source =
      Profile(absl::StrCat("[rrsa]\ntype = oidc_role_arn\nrole_arn = acs:ram::9:role/r\n"
                           "oidc_provider_arn = acs:ram::9:oidc-provider/p\n"
                           "oidc_token_file_path = ",
                           token_file, "\nsts_endpoint = sts-vpc.cn-beijing.aliyuncs.com\n"),
              "rrsa", Deps());
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Kind(), "oidc_role_arn");
  transport_.Push(Reply(200, kStsSuccess));
  ASSERT_TRUE(FetchNow(**source).ok());
  const HttpRequest r = transport_.requests()[0];
  EXPECT_THAT(r.url, StartsWith("https://sts-vpc.cn-beijing.aliyuncs.com/?"));
  EXPECT_THAT(r.body, HasSubstr("OIDCToken=profile-oidc-token"));
  std::filesystem::remove(token_file);
}

TEST_F(ProfileTest, UnknownTypeOrMissingKeyNamesProfileAndKeyButNoSecret) {
  auto unknown = Profile("[p]\ntype = rsa_key_pair\naccess_key_secret = sec-VALUE\n", "p", Deps());
  EXPECT_THAT(unknown.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("\"p\""));
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("unknown type"));

  auto missing = Profile("[p]\ntype = access_key\naccess_key_secret = sec-VALUE\n", "p", Deps());
  EXPECT_THAT(missing.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("access_key_id"));
  EXPECT_THAT(std::string(missing.status().message()), Not(HasSubstr("sec-VALUE")));

  auto no_role = Profile(
      "[p]\ntype = ram_role_arn\naccess_key_id = a\naccess_key_secret = sec-VALUE\n", "p", Deps());
  EXPECT_THAT(no_role.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(no_role.status().message()), HasSubstr("role_arn"));
  EXPECT_THAT(std::string(no_role.status().message()), Not(HasSubstr("sec-VALUE")));

  auto no_token_file =
      Profile("[p]\ntype = oidc_role_arn\nrole_arn = r\noidc_provider_arn = o\n", "p", Deps());
  EXPECT_THAT(std::string(no_token_file.status().message()), HasSubstr("oidc_token_file_path"));

  auto no_type = Profile("[p]\naccess_key_id = a\n", "p", Deps());
  EXPECT_THAT(std::string(no_type.status().message()), HasSubstr("\"type\""));

  auto absent = Profile("[p]\ntype = access_key\n", "other", Deps());
  EXPECT_THAT(absent.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(absent.status().message()), HasSubstr("\"other\""));
}

TEST_F(ProfileTest, FilePathAndProfileNameFromEnvironment) {
  EXPECT_EQ(CredentialsFilePath(MapEnvironment({{"HOME", "/home/ota"}})),
            "/home/ota/.alibabacloud/credentials");
  EXPECT_EQ(CredentialsFilePath(MapEnvironment(
                {{"HOME", "/home/ota"}, {"ALIBABA_CLOUD_CREDENTIALS_FILE", "/etc/ota/creds"}})),
            "/etc/ota/creds");
  EXPECT_EQ(ProfileName(MapEnvironment({})), "default");
  EXPECT_EQ(ProfileName(MapEnvironment({{"ALIBABA_CLOUD_PROFILE", "prod"}})), "prod");
}

TEST_F(ProfileTest, ProfileFromFileNamesTheFileInErrors) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/profile_file_", getpid());
  std::ofstream(path) << "[default]\ntype = access_key\naccess_key_id = LTAI-f\n"
                         "access_key_secret = f-secret\n";
  auto ok = ProfileFromFile(path, "default", Deps());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(FetchNow(**ok)->access_key_id, "LTAI-f");
  auto missing_profile = ProfileFromFile(path, "prod", Deps());
  EXPECT_THAT(std::string(missing_profile.status().message()), HasSubstr(path));
  auto missing_file = ProfileFromFile(path + ".nope", "default", Deps());
  EXPECT_THAT(missing_file.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace otaverify

// AccessKeyFileSource over files laid out as the kubelet mounts a Secret: re-read on every
// fetch, symlink swaps followed, errors naming the file but never its content.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/credentials/access_key_file_source.h"
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

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

// A Secret volume: <dir>/<key> -> ..data/<key>, ..data -> ..<version>/ (kubelet AtomicWriter).
class SecretVolume {
 public:
  SecretVolume() {
    dir_ = absl::StrCat(::testing::TempDir(), "/secret_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (const char* key : {"access_key_id", "access_key_secret", "security_token"}) {
      std::filesystem::create_symlink(absl::StrCat("..data/", key), absl::StrCat(dir_, "/", key));
    }
  }
  // Publishes a new version and swaps ..data to it atomically.
  void Publish(const std::string& id, const std::string& secret,
               const std::optional<std::string>& token) {
    const std::string version = absl::StrCat("..v", ++version_);
    std::filesystem::create_directories(absl::StrCat(dir_, "/", version));
    WriteFile(absl::StrCat(dir_, "/", version, "/access_key_id"), id);
    WriteFile(absl::StrCat(dir_, "/", version, "/access_key_secret"), secret);
    if (token.has_value()) {
      WriteFile(absl::StrCat(dir_, "/", version, "/security_token"), *token);
    }
    const std::string tmp = absl::StrCat(dir_, "/..data_tmp");
    std::filesystem::create_symlink(version, tmp);
    ASSERT_EQ(std::rename(tmp.c_str(), absl::StrCat(dir_, "/..data").c_str()), 0);
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int version_ = 0;
};

TEST(AccessKeyFileSource, ReadsTheSecretFilesAndStripsTheTrailingNewline) {
  SecretVolume volume;
  volume.Publish("LTAI-file\n", "file-secret\r\n", std::nullopt);
  AccessKeyFileSource source(AccessKeyFileSource::InDirectory(volume.dir()));
  absl::StatusOr<Credentials> c = FetchNow(source);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "LTAI-file");
  EXPECT_EQ(c->access_key_secret, "file-secret");
  EXPECT_EQ(c->security_token, "");  // no token file: a plain AccessKey
  EXPECT_EQ(c->expiration, absl::InfiniteFuture());
  EXPECT_EQ(c->source, "access_key_file");
  EXPECT_EQ(source.Kind(), "access_key_file");
  EXPECT_EQ(source.RecheckInterval(), absl::Seconds(30));
}

TEST(AccessKeyFileSource, PicksUpARotatedSecretOnTheNextFetch) {
  SecretVolume volume;
  volume.Publish("LTAI-old", "old-secret", std::nullopt);
  AccessKeyFileSource source(AccessKeyFileSource::InDirectory(volume.dir()));
  ASSERT_EQ(FetchNow(source)->access_key_id, "LTAI-old");
  volume.Publish("LTAI-new", "new-secret", "new-token\n");
  absl::StatusOr<Credentials> c = FetchNow(source);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "LTAI-new");
  EXPECT_EQ(c->access_key_secret, "new-secret");
  EXPECT_EQ(c->security_token, "new-token");
}

TEST(AccessKeyFileSource, MissingFileIsFailedPreconditionNamingIt) {
  SecretVolume volume;
  volume.Publish("LTAI-file", "file-secret", std::nullopt);
  auto options = AccessKeyFileSource::InDirectory(volume.dir());
  options.access_key_secret_file = absl::StrCat(volume.dir(), "/nope");
  AccessKeyFileSource source(options);
  const absl::Status status = FetchNow(source).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(status.message()), HasSubstr(options.access_key_secret_file));
}

TEST(AccessKeyFileSource, EmptyFileIsFailedPreconditionAndNoContentLeaks) {
  SecretVolume volume;
  volume.Publish("LTAI-file-VISIBLE", "\n", "token-VALUE");
  AccessKeyFileSource source(AccessKeyFileSource::InDirectory(volume.dir()));
  const absl::Status status = FetchNow(source).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(status.message()), HasSubstr("access_key_secret"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("token-VALUE")));

  volume.Publish("LTAI-file", "file-secret-VALUE", "");  // empty token file: an error
  const absl::Status token_status = FetchNow(source).status();
  EXPECT_THAT(token_status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(token_status.message()), HasSubstr("security_token"));
  EXPECT_THAT(std::string(token_status.message()), Not(HasSubstr("file-secret-VALUE")));
}

}  // namespace
}  // namespace otaverify

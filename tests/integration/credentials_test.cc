// Credentials end to end: the real gateway fetching from the emulator's fake metadata service
// and STS, signing with what they issue, refreshing ahead of expiry, surviving an outage of
// its source, and never writing an issued secret or token to a log line.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "client/client.h"
#include "service/aliyun/signer.h"
#include "tests/testing/harness.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::CallResult;
using ::otaverify::testing::ErrorReason;
using ::otaverify::testing::Harness;
using ::otaverify::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRoleArn[] = "acs:ram::1234567890123456:role/emulator-role";
constexpr char kOidcToken[] = "emulator-oidc-token";

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value == nullptr ? fallback : std::atoi(value);
}

class CredentialsTest : public ::testing::Test {
 protected:
  void TearDown() override { ExpectNoIssuedSecretInLogs(); }

  // A gateway whose environment has no AccessKey and no profile file, so `env` decides the
  // source.
  absl::Status StartGateway(std::vector<std::string> env, std::vector<std::string> args = {}) {
    std::vector<std::string> all = {"ALIBABA_CLOUD_ACCESS_KEY_ID=",
                                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET=",
                                    "ALIBABA_CLOUD_CREDENTIALS_FILE=", "HOME=/nonexistent"};
    for (auto& e : env) all.push_back(std::move(e));
    return harness_.StartGateway(std::move(args), std::move(all));
  }

  // The ECS instance role, through the emulator's metadata service.
  std::vector<std::string> ImdsEnv() { return {"ALIBABA_CLOUD_ECS_METADATA_DISABLED="}; }

  // RRSA (ACK): role, provider and token file, exchanged at the emulator's STS.
  std::vector<std::string> RrsaEnv() {
    const std::string token_file = ::testing::TempDir() + "/oidc-token";
    std::ofstream(token_file) << kOidcToken;
    return {absl::StrCat("ALIBABA_CLOUD_ROLE_ARN=", kRoleArn),
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN=acs:ram::1234567890123456:oidc-provider/"
            "emulator-oidc-provider",
            "ALIBABA_CLOUD_OIDC_TOKEN_FILE=" + token_file,
            "ALIBABA_CLOUD_STS_ENDPOINT=" + harness_.emulator_url()};
  }

  // A number in the emulator's stats by path, e.g. {"sts_requests", "AssumeRoleWithOIDC",
  // "success"}; 0 when absent.
  double Stat(const std::vector<std::string>& path) {
    google::protobuf::Struct node = harness_.EmulatorStats();
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      auto it = node.fields().find(path[i]);
      if (it == node.fields().end()) return 0;
      google::protobuf::Struct child = it->second.struct_value();  // not a self-assignment
      node = std::move(child);
    }
    auto it = node.fields().find(path.back());
    return it == node.fields().end() ? 0 : it->second.number_value();
  }

  // Every secret and token the emulator issued, in any form a log could show it, is absent
  // from both processes' output.
  void ExpectNoIssuedSecretInLogs() {
    if (!harness_.emulator_url().empty() && harness_.emulator().pid() > 0) {
      absl::StatusOr<std::string> issued =
          harness_.EmulatorControl("GET", "/_emulator/credentials/issued");
      if (!issued.ok()) return;  // the emulator was stopped by the test
      google::protobuf::Struct doc;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*issued, &doc).ok());
      const std::string logs = harness_.gateway().Output() + harness_.emulator().Output();
      for (const auto& item : doc.fields().at("issued").list_value().values()) {
        for (const char* field : {"access_key_secret", "security_token"}) {
          const std::string secret = item.struct_value().fields().at(field).string_value();
          EXPECT_THAT(logs, Not(HasSubstr(secret))) << field;
          EXPECT_THAT(logs, Not(HasSubstr(PercentEncode(secret)))) << field;
          EXPECT_THAT(logs, Not(HasSubstr(secret.substr(0, 24)))) << field << " (prefix)";
        }
      }
    }
  }

  Harness harness_;
};

TEST_F(CredentialsTest, EcsInstanceRoleThroughHardenedMetadataSignsCalls) {
  ASSERT_TRUE(harness_.StartEmulator({"--imds_hardened_mode=required"}).ok());
  absl::Status started = StartGateway(ImdsEnv());
  ASSERT_TRUE(started.ok()) << started << harness_.gateway().Output();
  const CallResult call = harness_.Create(Harness::DemoRequest());
  ASSERT_TRUE(call.status.ok()) << call.status;
  EXPECT_EQ(Stat({"credentials_issued_by_source", "imds"}), 1);
  EXPECT_GE(Stat({"imds_requests", "token"}), 1);
  EXPECT_TRUE(harness_.gateway().WaitForOutput("from ecs_ram_role"));
}

TEST_F(CredentialsTest, RejectedCredentialsAreRefreshedAndTheCallSignedAgainOnce) {
  ASSERT_TRUE(harness_.StartEmulator().ok());
  ASSERT_TRUE(StartGateway(ImdsEnv()).ok());
  ASSERT_TRUE(harness_.Create(Harness::DemoRequest("demo-firmware-1")).status.ok());
  // The upstream forgets every key it issued (as after a revocation): the gateway's cached
  // credentials are now rejected with InvalidAccessKeyId.NotFound.
  ASSERT_TRUE(harness_.EmulatorControl("POST", "/_emulator/reset").ok());
  const Client client = Client::Connect(harness_.gateway_address());
  CallMetadata metadata;
  auto created = client.CreateVerifyJob(Harness::DemoRequest("demo-firmware-1"), {}, &metadata);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(metadata.attempts, 2);  // rejected, then re-signed with fresh credentials
  EXPECT_EQ(Stat({"requests_by_outcome", "InvalidAccessKeyId.NotFound"}), 1);
  EXPECT_EQ(Stat({"credentials_issued_by_source", "imds"}), 1);  // one fetch since the reset
  EXPECT_TRUE(harness_.gateway().WaitForOutput("refreshing and re-signing once"));
}

TEST_F(CredentialsTest, RrsaOidcExchangeSignsCalls) {
  ASSERT_TRUE(harness_.StartEmulator().ok());
  absl::Status started = StartGateway(RrsaEnv());
  ASSERT_TRUE(started.ok()) << started << harness_.gateway().Output();
  const CallResult call = harness_.Create(Harness::DemoRequest());
  ASSERT_TRUE(call.status.ok()) << call.status;
  EXPECT_EQ(Stat({"sts_requests", "AssumeRoleWithOIDC", "success"}), 1);
}

TEST_F(CredentialsTest, WrongOidcTokenFailsStartUpWithAClearMessage) {
  ASSERT_TRUE(harness_.StartEmulator({"--oidc_token=another-token"}).ok());
  ASSERT_TRUE(StartGateway(RrsaEnv(), {"--credentials_startup_timeout=5s"}).ok() == false);
  absl::StatusOr<int> exit_status = harness_.gateway().Wait(absl::Seconds(10));
  ASSERT_TRUE(exit_status.ok());
  EXPECT_EQ(*exit_status, 1);
  const std::string output = harness_.gateway().FinalOutput();  // it exited: all of it
  EXPECT_THAT(output, HasSubstr("start-up failed: profile \\\"default\\\""));
  EXPECT_THAT(output, HasSubstr("AuthenticationFail.OIDCToken"));
  EXPECT_THAT(harness_.gateway().Output(), Not(HasSubstr(kOidcToken)));
}

TEST_F(CredentialsTest, MetadataOutageServesCachedCredentialsUntilExpiryThenRecovers) {
  // Credentials living 12 s, each fetch issuing new ones.
  ASSERT_TRUE(harness_
                  .StartEmulator({"--imds_credential_lifetime_seconds=12",
                                  "--imds_rotation_lead_seconds=12"})
                  .ok());
  ASSERT_TRUE(StartGateway(ImdsEnv(), {"--credentials_backoff_cap=2s"}).ok());
  const absl::Time issued = absl::Now();
  ASSERT_TRUE(harness_.Create(Harness::DemoRequest("demo-firmware-1")).status.ok());
  ASSERT_TRUE(harness_.ArmFault("imds_http_500", -1).ok());

  // Calls keep succeeding on the cached credentials until shortly before they expire, then
  // fail with a typed error (never InvalidSecurityToken from the upstream).
  absl::Time first_failure = absl::InfiniteFuture();
  int ok = 0;
  while (absl::Now() < issued + absl::Seconds(14)) {
    const CallResult call = harness_.Create(Harness::DemoRequest("demo-firmware-verified"));
    if (call.status.code() == absl::StatusCode::kFailedPrecondition) {
      ++ok;  // signed, accepted, and refused as a business error: the credentials worked
      EXPECT_EQ(first_failure, absl::InfiniteFuture()) << "a success after a failure";
    } else {
      EXPECT_THAT(call.status, StatusIs(absl::StatusCode::kUnavailable));
      EXPECT_EQ(ErrorReason(call.status), "GATEWAY_CREDENTIALS_UNAVAILABLE");
      first_failure = std::min(first_failure, absl::Now());
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_NE(first_failure, absl::InfiniteFuture());
  std::cout << ok << " calls succeeded on cached credentials; the first failed "
            << (first_failure - issued) << " after they were issued (lifetime 12 s)" << std::endl;
  EXPECT_GT(first_failure - issued, absl::Seconds(10));
  // The gateway stopped using the credentials before they expired: the upstream never had to
  // refuse an expired token.
  EXPECT_EQ(Stat({"requests_by_outcome", "InvalidSecurityToken.Expired"}), 0);

  // The metadata service is back: the next refresh, at most the 2 s backoff cap plus a 1 s
  // tick away, restores service.
  ASSERT_TRUE(harness_.EmulatorControl("DELETE", "/_emulator/faults").ok());
  const absl::Time back = absl::Now();
  bool recovered = false;
  while (!recovered && absl::Now() < back + absl::Seconds(10)) {
    recovered = harness_.Create(Harness::DemoRequest("demo-firmware-verified")).status.code() ==
                absl::StatusCode::kFailedPrecondition;
    if (!recovered) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(recovered);
  std::cout << "recovered " << (absl::Now() - back) << " after the metadata service returned"
            << std::endl;
  EXPECT_LT(absl::Now() - back, absl::Seconds(5));
}

// Steady calls while STS credentials rotate: no caller ever sees an expired token, and fetches
// follow the lifetime, not the call rate. OTAVERIFY_SOAK_SECONDS and
// OTAVERIFY_SOAK_STS_LIFETIME_SECONDS lengthen it (make credentials-soak: 300 s and 60 s).
TEST_F(CredentialsTest, RotatingStsCredentialsNeverReachCallersExpired) {
  const int seconds = EnvInt("OTAVERIFY_SOAK_SECONDS", 30);
  const int lifetime = EnvInt("OTAVERIFY_SOAK_STS_LIFETIME_SECONDS", 10);
  ASSERT_TRUE(harness_
                  .StartEmulator({"--seed=" + Harness::WriteLoadSeed(seconds * 25),
                                  "--sts_min_duration_seconds=1",
                                  absl::StrCat("--sts_duration_seconds=", lifetime)})
                  .ok());
  ASSERT_TRUE(StartGateway(RrsaEnv()).ok());
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  int calls = 0;
  int failures = 0;
  while (absl::Now() < end) {
    const CallResult call = harness_.Create(Harness::LoadRequest(calls));
    ++calls;
    if (!call.status.ok()) {
      ++failures;
      ADD_FAILURE() << "call " << calls << ": " << call.status;
    }
    absl::SleepFor(absl::Milliseconds(40));
  }
  const double fetches = Stat({"sts_requests", "AssumeRoleWithOIDC", "success"});
  const double expired = Stat({"requests_by_outcome", "InvalidSecurityToken.Expired"});
  std::cout << calls << " calls over " << seconds << " s with " << lifetime
            << " s STS credentials: " << failures << " failed, " << fetches
            << " credential fetches, " << expired
            << " InvalidSecurityToken.Expired answers upstream" << std::endl;
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(expired, 0);
  // One at start-up, then about one per (lifetime - advisory window) = 2/3 of the lifetime.
  EXPECT_GE(fetches, 1 + seconds / lifetime);
  EXPECT_LE(fetches, 2 + 2 * seconds / lifetime);
}

}  // namespace
}  // namespace otaverify

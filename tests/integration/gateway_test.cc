// End to end: the real gateway binary, its real curl transport and the emulator over
// loopback. Every server binds 127.0.0.1:0; each test starts its own processes.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "otaverify/v1/ota_verify.grpc.pb.h"
#include "service/status/rich_status.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/harness.h"
#include "tests/testing/subprocess.h"

namespace otaverify {
namespace {

using ::otaverify::testing::CallResult;
using ::otaverify::testing::ChildProcess;
using ::otaverify::testing::Harness;
using ::otaverify::testing::kEmulatorSecret;
using ::otaverify::testing::ErrorReason;
using ::otaverify::testing::StatusIs;
using ::otaverify::testing::ViolatedFields;
using ::testing::HasSubstr;
using ::testing::Not;

class GatewayTest : public ::testing::Test {
 protected:
  // Starts the emulator (with `seed_file` if given) and a gateway signing with `signature`.
  void StartAll(const std::string& signature = "v3", const std::string& seed_file = "",
                const std::string& secret = kEmulatorSecret, const std::string& token = "") {
    std::vector<std::string> emulator_args;
    if (!seed_file.empty()) emulator_args.push_back("--seed=" + seed_file);
    ASSERT_TRUE(harness_.StartEmulator(emulator_args).ok());
    absl::Status started = harness_.StartGateway(
        {"--signature_version=" + signature},
        {absl::StrCat("ALIBABA_CLOUD_ACCESS_KEY_SECRET=", secret),
         absl::StrCat("ALIBABA_CLOUD_SECURITY_TOKEN=", token)});
    ASSERT_TRUE(started.ok()) << started;
    gateway_ = &harness_.gateway();
    emulator_ = &harness_.emulator();
  }

  CallResult Create(const v1::CreateVerifyJobRequest& request) { return harness_.Create(request); }
  google::protobuf::Struct EmulatorStats() { return harness_.EmulatorStats(); }
  double Stat(const char* name) { return harness_.Stat(name); }
  static v1::CreateVerifyJobRequest DemoRequest(const std::string& firmware = "demo-firmware-1") {
    return Harness::DemoRequest(firmware);
  }

  Harness harness_;
  ChildProcess* gateway_ = nullptr;
  ChildProcess* emulator_ = nullptr;
};

TEST_F(GatewayTest, CreatesJobWithV3Signature) {
  StartAll("v3");
  const CallResult call = Create(DemoRequest());
  ASSERT_TRUE(call.status.ok()) << call.status << "\n" << gateway_->Output();
  EXPECT_FALSE(call.response.job_id().empty());
  EXPECT_GT(call.response.create_time().seconds(), 1700000000);
  EXPECT_FALSE(call.response.upstream_request_id().empty());
  EXPECT_EQ(call.upstream_request_id, call.response.upstream_request_id());
}

TEST_F(GatewayTest, CreatesJobWithV1Signature) {
  StartAll("v1");
  const CallResult call = Create(DemoRequest());
  ASSERT_TRUE(call.status.ok()) << call.status << "\n" << gateway_->Output();
  EXPECT_FALSE(call.response.job_id().empty());
}

TEST_F(GatewayTest, InvalidRequestNamesFieldsAndNeverReachesUpstream) {
  StartAll();
  v1::CreateVerifyJobRequest request = DemoRequest();
  request.clear_firmware_id();
  request.mutable_tags(0)->set_key("bad key");
  const CallResult call = Create(request);
  EXPECT_THAT(call.status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ViolatedFields(call.status), ::testing::ElementsAre("firmware_id", "tags[0].key"));
  EXPECT_EQ(ErrorReason(call.status), "INVALID_REQUEST");
  // The stats request itself is the emulator's only connection.
  const google::protobuf::Struct stats = EmulatorStats();
  EXPECT_EQ(stats.fields().at("requests_total").number_value(), 0);
  EXPECT_EQ(stats.fields().at("connections_accepted").number_value(), 1);
}

TEST_F(GatewayTest, BusinessErrorIsMappedWithUpstreamRequestId) {
  StartAll();
  v1::CreateVerifyJobRequest request = DemoRequest();
  request.set_product_key("a1NoSuchProd");
  const CallResult call = Create(request);
  EXPECT_THAT(call.status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(ErrorReason(call.status), "PRODUCT_NOT_FOUND");
  auto info = GetDetail<google::rpc::ErrorInfo>(call.status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->metadata().at("upstream_code"), "iot.prod.NotExistedProduct");
  EXPECT_FALSE(call.upstream_request_id.empty());
  EXPECT_EQ(info->metadata().at("upstream_request_id"), call.upstream_request_id);
  EXPECT_TRUE(gateway_->WaitForOutput(call.upstream_request_id)) << gateway_->Output();
}

TEST_F(GatewayTest, UnknownDeviceIsNotFound) {
  StartAll();
  v1::CreateVerifyJobRequest request = DemoRequest();
  request.add_target_device_names("no-such-device");
  EXPECT_EQ(ErrorReason(Create(request).status), "DEVICE_NOT_FOUND");
}

TEST_F(GatewayTest, SecondCreateForSameFirmwareIsFailedPrecondition) {
  StartAll();
  ASSERT_TRUE(Create(DemoRequest("demo-firmware-2")).status.ok());
  const CallResult again = Create(DemoRequest("demo-firmware-2"));
  EXPECT_THAT(again.status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ErrorReason(again.status), "FIRMWARE_ALREADY_VERIFYING");
  EXPECT_FALSE(again.upstream_request_id.empty());
}

TEST_F(GatewayTest, AlreadyVerifiedFirmwareIsFailedPrecondition) {
  StartAll();
  EXPECT_THAT(Create(DemoRequest("demo-firmware-verified")).status,
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(GatewayTest, HundredSequentialCreatesReuseAtMostTwoConnections) {
  // A seed with 100 unverified firmwares, so every create succeeds.
  StartAll("v3", Harness::WriteLoadSeed(100));
  for (int i = 0; i < 100; ++i) {
    const CallResult call = Create(Harness::LoadRequest(i));
    ASSERT_TRUE(call.status.ok()) << i << ": " << call.status;
  }
  const google::protobuf::Struct stats = EmulatorStats();
  EXPECT_EQ(stats.fields().at("requests_total").number_value(), 100);
  // One of the accepted connections is this stats request's own.
  const double gateway_connections = stats.fields().at("connections_accepted").number_value() - 1;
  std::cout << "upstream TCP connections for 100 sequential creates: " << gateway_connections
            << std::endl;
  EXPECT_LE(gateway_connections, 2);
  EXPECT_GE(gateway_connections, 1);
}

TEST_F(GatewayTest, WrongSecretIsInternalAndNeverLeaksTheSecret) {
  const std::string wrong_secret = "wrong-secret-Zq9/+=";
  StartAll("v1", "", wrong_secret);
  const CallResult call = Create(DemoRequest());
  EXPECT_THAT(call.status, StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(ErrorReason(call.status), "GATEWAY_SIGNATURE_REJECTED");
  EXPECT_THAT(std::string(call.status.message()), Not(HasSubstr(wrong_secret)));
  EXPECT_THAT(gateway_->Output(), Not(HasSubstr(wrong_secret)));
  EXPECT_THAT(gateway_->Output(), Not(HasSubstr("wrong-secret")));
}

int CountOccurrences(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST_F(GatewayTest, SignatureMismatchLogsBothStringsToSignOnceWithoutSecrets) {
  const std::string wrong_secret = "wrong-secret-Zq9/+=";
  const std::string token = "sts-token-Kp3/x+y=z";
  StartAll("v1", "", wrong_secret, token);
  EXPECT_THAT(Create(DemoRequest("demo-firmware-1")).status,
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(Create(DemoRequest("demo-firmware-2")).status,
              StatusIs(absl::StatusCode::kInternal));
  // Wait for both calls' access lines: everything about them has been logged by then.
  for (int i = 0; i < 500 && CountOccurrences(gateway_->Output(), "\"grpc_code\":\"INTERNAL\"") < 2;
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const std::string log = gateway_->Output();
  EXPECT_EQ(CountOccurrences(log, "upstream rejected the signature"), 1) << log;
  EXPECT_THAT(log, HasSubstr("\"our_string_to_sign\":\"POST&%2F&AccessKeyId%3D"));
  EXPECT_THAT(log, HasSubstr("\"server_string_to_sign\":\"POST&%2F&AccessKeyId%3D"));
  EXPECT_THAT(log, HasSubstr("SecurityToken%3D<redacted>"));
  EXPECT_THAT(log, Not(HasSubstr("sts-token")));
  EXPECT_THAT(log, Not(HasSubstr("wrong-secret")));
}

TEST_F(GatewayTest, UnknownAccountIsNotFoundNamingOnlyThatAccount) {
  StartAll();
  v1::CreateVerifyJobRequest request = DemoRequest();
  request.set_account("team-b");
  const CallResult call = Create(request);
  EXPECT_THAT(call.status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(call.status.message()), HasSubstr("team-b"));
  EXPECT_EQ(Stat("requests_total"), 0);
}

TEST_F(GatewayTest, UnreachableUpstreamIsUnavailable) {
  StartAll();
  ASSERT_EQ(*emulator_->Stop(SIGKILL), 128 + SIGKILL);
  const CallResult call = Create(DemoRequest());
  EXPECT_THAT(call.status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(ErrorReason(call.status), "UPSTREAM_UNREACHABLE");
}

TEST_F(GatewayTest, HealthServesLivenessAndReadiness) {
  StartAll();
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(harness_.gateway_address(), grpc::InsecureChannelCredentials()));
  for (const char* service : {"", "liveness", "readiness"}) {
    SCOPED_TRACE(service);
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("no-such-service");
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_EQ(health->Check(&context, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(GatewayTest, SigtermDrainsAndExitsZero) {
  StartAll();
  ASSERT_TRUE(Create(DemoRequest()).status.ok());
  absl::StatusOr<int> exit_status = gateway_->Stop(SIGTERM);
  ASSERT_TRUE(exit_status.ok()) << exit_status.status();
  EXPECT_EQ(*exit_status, 0) << gateway_->Output();
  EXPECT_THAT(gateway_->FinalOutput(), HasSubstr("\"message\":\"stopped\""));
}

TEST(GatewayStartup, RefusesPlainHttpEndpointWithoutOptIn) {
  auto result = ::otaverify::testing::RunCommand(
      {OTAVERIFY_GATEWAY_BIN, "--listen=127.0.0.1:0", "--endpoint=http://127.0.0.1:9"},
      {"ALIBABA_CLOUD_ACCESS_KEY_ID=a", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=b"});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_status, 1);
  EXPECT_THAT(result->output, HasSubstr("--allow_insecure_endpoint"));
}

TEST(GatewayStartup, MissingCredentialsNameTheVariables) {
  // No AccessKey, RRSA or profile file, and the metadata service switched off (tests never
  // reach the real one): nothing is usable, and the error says what was looked at.
  auto result = ::otaverify::testing::RunCommand(
      {"/usr/bin/env", "-u", "ALIBABA_CLOUD_ACCESS_KEY_ID", "-u",
       "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "-u", "ALIBABA_CLOUD_CREDENTIALS_FILE",
       "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true", "HOME=/nonexistent", OTAVERIFY_GATEWAY_BIN,
       "--listen=127.0.0.1:0"});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_status, 1);
  EXPECT_THAT(result->output, HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_ID"));
  EXPECT_THAT(result->output, HasSubstr("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));
}

TEST(GatewayStartup, ConfigFileSetsFlagsAndRejectsUnknownKeys) {
  const std::string bad = ::testing::TempDir() + "/bad-config.json";
  std::ofstream(bad) << R"({"listen":"127.0.0.1:0","no_such_flag":1})";
  auto result = ::otaverify::testing::RunCommand(
      {OTAVERIFY_GATEWAY_BIN, "--config=" + bad},
      {"ALIBABA_CLOUD_ACCESS_KEY_ID=a", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=b"});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_status, 1);
  EXPECT_THAT(result->output, HasSubstr("no_such_flag"));

  // A config that would be refused (plain http) is accepted once it opts in, and the command
  // line wins over the file for --listen.
  const std::string good = ::testing::TempDir() + "/good-config.json";
  std::ofstream(good) << R"({"listen":"127.0.0.1:1","endpoint":"http://127.0.0.1:9",)"
                      << R"("allow_insecure_endpoint":true})";
  auto gateway = ChildProcess::Start({OTAVERIFY_GATEWAY_BIN, "--config=" + good,
                                      "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0"},
                                     {"ALIBABA_CLOUD_ACCESS_KEY_ID=a",
                                      "ALIBABA_CLOUD_ACCESS_KEY_SECRET=b"});
  ASSERT_TRUE(gateway.ok());
  auto address = (*gateway)->WaitForAddress();
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_THAT(*address, Not(HasSubstr(":1")));
  EXPECT_EQ(*(*gateway)->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace otaverify

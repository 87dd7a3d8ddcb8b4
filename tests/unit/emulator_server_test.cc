// The emulator's HTTP face and test hooks: connection counting, stats, reset, seeds, clock
// skew, HTTP-level rejections and concurrent clients.
#include "emulator/emulator_server.h"

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());

RpcCall CreateJobCall(const std::string& firmware = "demo-firmware-1") {
  RpcCall call;
  call.action = "CreateOTAVerifyJob";
  call.params = {{"FirmwareId", firmware},
                 {"ProductKey", "a1DemoProduct"},
                 {"TargetDeviceName.1", "demo-device-1"}};
  return call;
}

class EmulatorServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.seed = DemoSeed();
    options.worker_threads = 24;
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
  }

  StatsSnapshot Stats() { return server_->stats().Snapshot(); }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
};

TEST_F(EmulatorServerTest, AddressNamesThePickedPort) {
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->address(), absl::StrCat("127.0.0.1:", server_->port()));
}

TEST_F(EmulatorServerTest, TwoKeepAliveRequestsCountOneConnection) {
  TestClient client(server_->port());
  ASSERT_EQ(client.Call(CreateJobCall(), SignatureVersion::kV1, kNow, "n1")->status, 200);
  ASSERT_EQ(client.Call(CreateJobCall(), SignatureVersion::kV3, kNow, "n2")->status, 200);
  const absl::StatusOr<TestReply> stats = client.Get("/_emulator/stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->body,
            "{\"connections_accepted\":1,\"tls_handshakes_full\":0,"
            "\"tls_handshakes_resumed\":0,\"requests_total\":2,"
            "\"requests_by_action\":{\"CreateOTAVerifyJob\":2},"
            "\"requests_by_outcome\":{\"iot.ota.VerifyJobIsProcessing\":1,\"success\":1},"
            "\"faults_injected\":{}}");
}

TEST_F(EmulatorServerTest, HundredSequentialCallsReuseOneConnection) {
  TestClient client(server_->port());
  for (int i = 0; i < 100; ++i) {
    const auto reply =
        client.Call(CreateJobCall(), SignatureVersion::kV3, kNow, absl::StrCat("nonce-", i));
    ASSERT_TRUE(reply.ok()) << reply.status();
  }
  EXPECT_EQ(Stats().connections_accepted, 1);
  EXPECT_EQ(Stats().requests_total, 100);
}

TEST_F(EmulatorServerTest, EachClientIsItsOwnConnection) {
  TestClient a(server_->port());
  TestClient b(server_->port());
  ASSERT_TRUE(a.Get("/_emulator/stats").ok());
  ASSERT_TRUE(b.Get("/_emulator/stats").ok());
  ASSERT_TRUE(a.Get("/_emulator/stats").ok());
  EXPECT_EQ(Stats().connections_accepted, 2);
  EXPECT_EQ(Stats().requests_total, 0);  // hooks are not counted
}

TEST_F(EmulatorServerTest, ResetRestoresSeedAndZeroesCounters) {
  TestClient client(server_->port());
  ASSERT_EQ(client.Call(CreateJobCall(), SignatureVersion::kV3, kNow, "n1")->status, 200);
  ASSERT_EQ(server_->state().FirmwareStatus("a1DemoProduct", "demo-firmware-1"),
            kFirmwareVerifying);
  const auto reset = client.Post("/_emulator/reset");
  ASSERT_TRUE(reset.ok());
  EXPECT_EQ(reset->status, 200);
  EXPECT_EQ(server_->state().FirmwareStatus("a1DemoProduct", "demo-firmware-1"),
            kFirmwareNotVerified);
  EXPECT_EQ(server_->state().JobCount(), 0u);
  EXPECT_EQ(Stats().requests_total, 0);
  EXPECT_EQ(Stats().connections_accepted, 0);
  // Nonces are forgotten too, so a test can replay its fixed script.
  const auto again = client.Call(CreateJobCall(), SignatureVersion::kV3, kNow, "n1");
  EXPECT_THAT(again->body, HasSubstr("\"Success\":true"));
}

TEST_F(EmulatorServerTest, EveryResponseHasAFreshUpperCaseRequestId) {
  TestClient client(server_->port());
  const auto first = client.Call(CreateJobCall(), SignatureVersion::kV3, kNow, "n1");
  const auto second = client.Call(CreateJobCall(), SignatureVersion::kV3, kNow, "n2");
  auto id = [](const TestReply& reply) {
    return TestClient::ParseJson(reply.body)->fields().at("RequestId").string_value();
  };
  EXPECT_THAT(id(*first),
              MatchesRegex("[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"));
  EXPECT_NE(id(*first), id(*second));
  const std::string job_id = TestClient::ParseJson(first->body)
                                 ->fields()
                                 .at("Data")
                                 .struct_value()
                                 .fields()
                                 .at("JobId")
                                 .string_value();
  EXPECT_THAT(job_id, MatchesRegex("[A-Za-z0-9]{26}"));
}

TEST_F(EmulatorServerTest, HttpLevelRejectionsStillCarryGatewayErrorBody) {
  TestClient client(server_->port());
  const auto wrong_path = client.Get("/v1/foo");
  ASSERT_TRUE(wrong_path.ok());
  EXPECT_EQ(wrong_path->status, 404);
  EXPECT_THAT(wrong_path->body, HasSubstr("\"Code\":\"InvalidApi.NotFound\""));

  HttpRequest huge_body;
  huge_body.url = "/";
  huge_body.body = std::string(2 << 20, 'x');
  const auto too_large = client.Send(huge_body);
  ASSERT_TRUE(too_large.ok());
  EXPECT_EQ(too_large->status, 413);
  EXPECT_THAT(too_large->body, HasSubstr("\"Code\":"));

  TestClient fresh(server_->port());
  const auto long_uri = fresh.Get(absl::StrCat("/?a=", std::string(9000, 'a')));
  ASSERT_TRUE(long_uri.ok());
  EXPECT_EQ(long_uri->status, 414);
  EXPECT_THAT(long_uri->body, HasSubstr("\"Code\":"));
}

TEST_F(EmulatorServerTest, ConcurrentClientsCreateExactlyOneJobPerFirmware) {
  constexpr int kClients = 16;
  constexpr int kCallsEach = 10;
  std::atomic<int> successes{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      TestClient client(server_->port());
      for (int i = 0; i < kCallsEach; ++i) {
        const auto reply = client.Call(CreateJobCall(), SignatureVersion::kV3, kNow,
                                       absl::StrCat("nonce-", t, "-", i));
        if (!reply.ok() || reply->status != 200) {
          ++failures;
        } else if (reply->body.find("\"Success\":true") != std::string::npos) {
          ++successes;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(successes.load(), 1);
  EXPECT_EQ(Stats().connections_accepted, kClients);
  EXPECT_EQ(Stats().requests_by_outcome.at("iot.ota.VerifyJobIsProcessing"),
            kClients * kCallsEach - 1);
}

TEST(EmulatorClock, SkewShiftsTheTimestampWindow) {
  SystemClock skewed(absl::Hours(1));
  EmulatorOptions options;
  options.seed = DemoSeed();
  options.worker_threads = 2;
  EmulatorServer server(options, &skewed);
  ASSERT_TRUE(server.Start().ok());
  TestClient client(server.port());
  const auto stale = client.Call(CreateJobCall(), SignatureVersion::kV1, absl::Now(), "n1");
  EXPECT_THAT(stale->body, HasSubstr("\"Code\":\"InvalidTimeStamp.Expired\""));
  const auto ok =
      client.Call(CreateJobCall(), SignatureVersion::kV1, absl::Now() + absl::Hours(1), "n2");
  EXPECT_EQ(ok->status, 200);
}

TEST(EmulatorSeed, DemoSeedFileMatchesBuiltIn) {
  const std::string path = std::string(OTAVERIFY_SOURCE_DIR) + "/emulator/seed/demo.json";
  absl::StatusOr<Seed> from_file = LoadSeedFile(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*from_file, DemoSeed()));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), DemoSeedJson());
}

TEST(EmulatorSeed, DemoSeedHasTheDocumentedWorld) {
  const Seed seed = DemoSeed();
  ASSERT_EQ(seed.products_size(), 2);
  EXPECT_EQ(seed.products(0).product_key(), "a1DemoProduct");
  EXPECT_EQ(seed.products(0).iot_instance_id(), "");
  // demo-device-1..10 succeed; -fail, -offline and -timeout behave as named.
  EXPECT_EQ(seed.products(0).devices_size(), 13);
  const auto& behaviors = seed.products(0).device_behaviors();
  ASSERT_EQ(behaviors.size(), 3u);
  EXPECT_EQ(behaviors.at("demo-device-fail").behavior(), "fail");
  EXPECT_EQ(behaviors.at("demo-device-fail").percent(), 40);
  EXPECT_EQ(behaviors.at("demo-device-fail").task_desc(), "checksum mismatch after download");
  EXPECT_EQ(behaviors.at("demo-device-offline").behavior(), "offline");
  EXPECT_EQ(behaviors.at("demo-device-timeout").behavior(), "timeout");
  // demo-firmware-1..20 (not verified), then demo-firmware-verified.
  EXPECT_EQ(seed.products(0).firmwares_size(), 21);
  EXPECT_EQ(seed.products(0).firmwares(19).firmware_id(), "demo-firmware-20");
  EXPECT_EQ(seed.products(0).firmwares(19).status(), kFirmwareNotVerified);
  EXPECT_EQ(seed.products(0).firmwares(20).firmware_id(), "demo-firmware-verified");
  EXPECT_EQ(seed.products(0).firmwares(20).status(), kFirmwareVerified);
  EXPECT_EQ(seed.products(1).iot_instance_id(), "iot-demo-instance");
  EXPECT_EQ(seed.products(1).devices_size(), 3);
}

TEST(EmulatorSeed, InvalidSeedsAreRejected) {
  EXPECT_FALSE(ParseSeedJson("{").ok());
  EXPECT_FALSE(ParseSeedJson(R"({"prodcts":[]})").ok());  // typo: unknown field
  EXPECT_FALSE(ParseSeedJson(R"({"products":[{"product_key":"p"},{"product_key":"p"}]})").ok());
  EXPECT_FALSE(ParseSeedJson(R"({"products":[{"product_key":"p","iot_instance_id":"i"}]})").ok());
  EXPECT_FALSE(
      ParseSeedJson(
          R"({"products":[{"product_key":"p","firmwares":[{"firmware_id":"f","status":7}]}]})")
          .ok());
  EXPECT_EQ(LoadSeedFile("/nonexistent/seed.json").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify

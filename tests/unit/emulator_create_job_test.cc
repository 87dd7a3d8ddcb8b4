// CreateOTAVerifyJob in the emulator: the rules of protocol.md §6 and the state they change.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "service/common/clock.h"
#include "emulator/emulator_server.h"
#include "emulator/emulator_state.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());

class EmulatorCreateJob : public ::testing::Test {
 protected:
  void StartServer(Seed seed) {
    EmulatorOptions options;
    options.seed = std::move(seed);
    options.worker_threads = 4;
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }
  void SetUp() override { StartServer(DemoSeed()); }

  struct Result {
    int status = 0;
    google::protobuf::Struct json;
    std::string Str(const std::string& key) const {
      auto it = json.fields().find(key);
      return it == json.fields().end() ? "<absent>" : it->second.string_value();
    }
    bool Success() const {
      auto it = json.fields().find("Success");
      return it != json.fields().end() && it->second.bool_value();
    }
  };

  Result Create(Params params, SignatureVersion version = SignatureVersion::kV3) {
    RpcCall call;
    call.action = "CreateOTAVerifyJob";
    call.params = std::move(params);
    const auto reply = client_->Call(call, version, kNow, absl::StrCat("nonce-", ++nonce_counter_));
    Result result;
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return result;
    result.status = reply->status;
    auto json = TestClient::ParseJson(reply->body);
    EXPECT_TRUE(json.ok()) << json.status();
    if (json.ok()) result.json = *json;
    return result;
  }

  static Params Demo(const std::string& firmware = "demo-firmware-1") {
    return {{"FirmwareId", firmware},
            {"ProductKey", "a1DemoProduct"},
            {"TargetDeviceName.1", "demo-device-1"}};
  }

  // Expects a business-layer failure: HTTP 200, Success false, `code`.
  void ExpectBusinessError(const Params& params, const std::string& code) {
    const Result r = Create(params);
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.Success());
    EXPECT_EQ(r.Str("Code"), code);
    EXPECT_NE(r.Str("ErrorMessage"), "<absent>");
    EXPECT_EQ(r.Str("Message"), "<absent>");  // the business layer says ErrorMessage
  }

  void ExpectGatewayError(const Params& params, const std::string& code) {
    const Result r = Create(params);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Str("Code"), code);
  }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
  std::unique_ptr<TestClient> client_;
  int nonce_counter_ = 0;
};

TEST_F(EmulatorCreateJob, SuccessRecordsJobAndMarksFirmwareVerifying) {
  Params params = Demo();
  params.emplace_back("TargetDeviceName.2", "demo-device-2");
  params.emplace_back("Tag.1.Key", "env");
  params.emplace_back("Tag.1.Value", "staging");
  params.emplace_back("TimeoutInMinutes", "30");
  params.emplace_back("NeedConfirm", "true");
  params.emplace_back("DownloadProtocol", "MQTT");
  const Result r = Create(params);
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.Success());
  const std::string job_id =
      r.json.fields().at("Data").struct_value().fields().at("JobId").string_value();
  EXPECT_EQ(server_->state().FirmwareStatus("a1DemoProduct", "demo-firmware-1"),
            kFirmwareVerifying);
  const std::optional<VerifyJob> job = server_->state().FindJob(job_id);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->spec.device_names, (std::vector<std::string>{"demo-device-1", "demo-device-2"}));
  EXPECT_EQ(job->spec.tags.size(), 1u);
  EXPECT_EQ(job->spec.timeout_in_minutes, 30);
  EXPECT_TRUE(job->spec.need_push);
  EXPECT_TRUE(job->spec.need_confirm);
  EXPECT_EQ(job->spec.download_protocol, "MQTT");
  EXPECT_EQ(job->utc_create, kNow);
}

TEST_F(EmulatorCreateJob, SecondCreateForSameFirmwareIsVerifyJobIsProcessing) {
  ASSERT_TRUE(Create(Demo()).Success());
  ExpectBusinessError(Demo(), "iot.ota.VerifyJobIsProcessing");
  EXPECT_EQ(server_->state().JobCount(), 1u);
}

TEST_F(EmulatorCreateJob, VerifiedFirmwareIsAlreadyVerified) {
  ExpectBusinessError(Demo("demo-firmware-verified"), "iot.ota.FirmwareAlreadyVerified");
}

TEST_F(EmulatorCreateJob, FirmwareNotNeedingVerificationIsRejectedAndFailedOneMayRetry) {
  absl::StatusOr<Seed> seed = ParseSeedJson(R"({"products":[{"product_key":"p",
      "devices":["d"], "firmwares":[{"firmware_id":"skip","status":-1},
      {"firmware_id":"failed","status":3}]}]})");
  ASSERT_TRUE(seed.ok()) << seed.status();
  server_.reset();
  StartServer(*seed);
  ExpectBusinessError({{"FirmwareId", "skip"}, {"ProductKey", "p"}, {"TargetDeviceName.1", "d"}},
                      "iot.ota.FirmwareNotNeedVerify");
  EXPECT_TRUE(Create({{"FirmwareId", "failed"}, {"ProductKey", "p"}, {"TargetDeviceName.1", "d"}})
                  .Success());
}

TEST_F(EmulatorCreateJob, UnknownProductFirmwareAndDevice) {
  Params params = Demo();
  params[1].second = "a1NoSuchProduct";
  ExpectBusinessError(params, "iot.prod.NotExistedProduct");
  ExpectBusinessError(Demo("no-such-firmware"), "iot.ota.NotExistedFirmware");
  params = Demo();
  params.emplace_back("TargetDeviceName.2", "ghost-device");
  const Result r = Create(params);
  EXPECT_EQ(r.Str("Code"), "iot.device.NotExistedDevice");
  EXPECT_THAT(r.Str("ErrorMessage"), HasSubstr("ghost-device"));
  // A rejected create changes nothing.
  EXPECT_EQ(server_->state().FirmwareStatus("a1DemoProduct", "demo-firmware-1"),
            kFirmwareNotVerified);
}

TEST_F(EmulatorCreateJob, DeviceOfAnotherProductDoesNotExist) {
  Params params = Demo();
  params[2].second = "ent-device-1";
  ExpectBusinessError(params, "iot.device.NotExistedDevice");
}

TEST_F(EmulatorCreateJob, DuplicateOrMoreThanTenDevicesAreInvalid) {
  Params duplicate = Demo();
  duplicate.emplace_back("TargetDeviceName.2", "demo-device-1");
  ExpectBusinessError(duplicate, "iot.ota.TargetDeviceNameInvalid");
  Params eleven = {{"FirmwareId", "demo-firmware-1"}, {"ProductKey", "a1DemoProduct"}};
  for (int i = 1; i <= 11; ++i) {
    eleven.emplace_back(absl::StrCat("TargetDeviceName.", i), absl::StrCat("device-", i));
  }
  ExpectBusinessError(eleven, "iot.ota.TargetDeviceNameInvalid");
}

TEST_F(EmulatorCreateJob, ListsMustBeOneBasedAndDense) {
  Params zero = Demo();
  zero[2].first = "TargetDeviceName.0";
  ExpectGatewayError(zero, "InvalidParameter");
  Params gap = Demo();
  gap.emplace_back("TargetDeviceName.3", "demo-device-3");
  ExpectGatewayError(gap, "InvalidParameter");
  Params tag_gap = Demo();
  tag_gap.emplace_back("Tag.2.Key", "k");
  tag_gap.emplace_back("Tag.2.Value", "v");
  ExpectGatewayError(tag_gap, "InvalidParameter");
}

TEST_F(EmulatorCreateJob, MissingRequiredParameterIsGatewayError) {
  Params params = Demo();
  params.erase(params.begin());
  const Result r = Create(params);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Str("Code"), "MissingFirmwareId");
  EXPECT_EQ(r.Str("Message"), "FirmwareId is mandatory for this action.");
  ExpectGatewayError({{"FirmwareId", "demo-firmware-1"}, {"TargetDeviceName.1", "demo-device-1"}},
                     "MissingProductKey");
  ExpectGatewayError({{"FirmwareId", "demo-firmware-1"}, {"ProductKey", "a1DemoProduct"}},
                     "MissingTargetDeviceName");
}

TEST_F(EmulatorCreateJob, TagRulesAreEnforced) {
  auto with_tags = [](std::vector<std::pair<std::string, std::string>> tags) {
    Params params = Demo();
    for (size_t i = 0; i < tags.size(); ++i) {
      params.emplace_back(absl::StrCat("Tag.", i + 1, ".Key"), tags[i].first);
      params.emplace_back(absl::StrCat("Tag.", i + 1, ".Value"), tags[i].second);
    }
    return params;
  };
  ExpectBusinessError(with_tags({{"bad_key", "v"}}), "iot.ota.InvalidTag");
  ExpectBusinessError(with_tags({{std::string(31, 'k'), "v"}}), "iot.ota.InvalidTag");
  ExpectBusinessError(with_tags({{"k", std::string(1025, 'v')}}), "iot.ota.InvalidTag");
  std::vector<std::pair<std::string, std::string>> eleven;
  for (int i = 0; i < 11; ++i) eleven.emplace_back(absl::StrCat("k", i), "v");
  ExpectBusinessError(with_tags(eleven), "iot.ota.InvalidTag");
  std::vector<std::pair<std::string, std::string>> big;
  for (int i = 0; i < 4; ++i) big.emplace_back(absl::StrCat("k", i), std::string(1024, 'v'));
  ExpectBusinessError(with_tags(big), "iot.ota.InvalidTag");  // 4104 > 4096
  Params unpaired = Demo();
  unpaired.emplace_back("Tag.1.Key", "k");
  ExpectBusinessError(unpaired, "iot.ota.InvalidTag");
  EXPECT_TRUE(Create(with_tags({{"a.B9", std::string(1024, 'v')}})).Success());
}

TEST_F(EmulatorCreateJob, TimeoutBooleansAndProtocolAreValidated) {
  auto with = [](const std::string& name, const std::string& value) {
    Params params = Demo();
    params.emplace_back(name, value);
    return params;
  };
  ExpectBusinessError(with("TimeoutInMinutes", "0"), "iot.ota.InvalidTimeoutInMinutes");
  ExpectBusinessError(with("TimeoutInMinutes", "1441"), "iot.ota.InvalidTimeoutInMinutes");
  ExpectBusinessError(with("TimeoutInMinutes", "ten"), "iot.common.InvalidFormattedParameter");
  ExpectBusinessError(with("NeedPush", "yes"), "iot.common.InvalidFormattedParameter");
  ExpectBusinessError(with("NeedConfirm", "TRUE"), "iot.common.InvalidFormattedParameter");
  ExpectBusinessError(with("DownloadProtocol", "FTP"), "iot.common.InvalidFormattedParameter");
  EXPECT_TRUE(Create(with("TimeoutInMinutes", "1440")).Success());
}

TEST_F(EmulatorCreateJob, InstanceIdMustMatchTheProductsInstance) {
  Params unknown = Demo();
  unknown.emplace_back("IotInstanceId", "iot-no-such-instance");
  ExpectBusinessError(unknown, "iot.Sre.IotInstanceNotFound");
  Params public_with_instance = Demo();
  public_with_instance.emplace_back("IotInstanceId", "iot-demo-instance");
  ExpectBusinessError(public_with_instance, "iot.prod.NotExistedProduct");
  Params ent = {{"FirmwareId", "ent-firmware-1"},
                {"ProductKey", "a1EntProduct"},
                {"TargetDeviceName.1", "ent-device-1"}};
  ExpectBusinessError(ent, "iot.prod.NotExistedProduct");
  ent.emplace_back("IotInstanceId", "iot-demo-instance");
  EXPECT_TRUE(Create(ent).Success());
}

TEST_F(EmulatorCreateJob, V1JsonBusinessErrorHasSameShape) {
  const Result r = Create(Demo("demo-firmware-verified"), SignatureVersion::kV1);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.Success());
  EXPECT_EQ(r.Str("Code"), "iot.ota.FirmwareAlreadyVerified");
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify

// CreateOTAVerifyJob rules (protocol.md §6): one test per rule, each asserting the field the
// BadRequest names; plus flattening and reading of the upstream answer.
#include "service/aliyun/create_verify_job.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::ErrorReason;
using ::otaverify::testing::StatusIs;
using ::otaverify::testing::ViolatedFields;
using ::testing::ElementsAre;
using ::testing::Pair;

v1::CreateVerifyJobRequest ValidRequest() {
  v1::CreateVerifyJobRequest r;
  r.set_product_key("a1Ww7Kp1vCx");
  r.set_firmware_id("UfuxnwygsuSkVE0VCNkg0100");
  r.add_target_device_names("dev-001");
  return r;
}

std::vector<std::string> Violations(const v1::CreateVerifyJobRequest& r) {
  const absl::Status status = ValidateCreateVerifyJob(r);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ErrorReason(status), "INVALID_REQUEST");
  return ViolatedFields(status);
}

TEST(ValidateCreateVerifyJob, MinimalRequestIsValid) {
  EXPECT_TRUE(ValidateCreateVerifyJob(ValidRequest()).ok());
}

TEST(ValidateCreateVerifyJob, ProductKeyIsRequired) {
  auto r = ValidRequest();
  r.clear_product_key();
  EXPECT_THAT(Violations(r), ElementsAre("product_key"));
}

TEST(ValidateCreateVerifyJob, FirmwareIdIsRequired) {
  auto r = ValidRequest();
  r.clear_firmware_id();
  EXPECT_THAT(Violations(r), ElementsAre("firmware_id"));
}

TEST(ValidateCreateVerifyJob, IdsLongerThan64CharactersAreRejected) {
  auto r = ValidRequest();
  r.set_iot_instance_id(std::string(65, 'i'));
  EXPECT_THAT(Violations(r), ElementsAre("iot_instance_id"));
}

TEST(ValidateCreateVerifyJob, AtLeastOneDeviceIsRequired) {
  auto r = ValidRequest();
  r.clear_target_device_names();
  EXPECT_THAT(Violations(r), ElementsAre("target_device_names"));
}

TEST(ValidateCreateVerifyJob, AtMostTenDevices) {
  auto r = ValidRequest();
  for (int i = 2; i <= 10; ++i) r.add_target_device_names("dev-" + std::to_string(i));
  EXPECT_TRUE(ValidateCreateVerifyJob(r).ok());
  r.add_target_device_names("dev-11");
  EXPECT_THAT(Violations(r), ElementsAre("target_device_names"));
}

TEST(ValidateCreateVerifyJob, DuplicateDeviceNamesAreRejected) {
  auto r = ValidRequest();
  r.add_target_device_names("dev-002");
  r.add_target_device_names("dev-001");
  EXPECT_THAT(Violations(r), ElementsAre("target_device_names[2]"));
}

TEST(ValidateCreateVerifyJob, EmptyDeviceNameIsRejected) {
  auto r = ValidRequest();
  r.add_target_device_names("");
  EXPECT_THAT(Violations(r), ElementsAre("target_device_names[1]"));
}

TEST(ValidateCreateVerifyJob, AtMostTenTags) {
  auto r = ValidRequest();
  for (int i = 0; i < 10; ++i) {
    auto* tag = r.add_tags();
    tag->set_key("k" + std::to_string(i));
    tag->set_value("v");
  }
  EXPECT_TRUE(ValidateCreateVerifyJob(r).ok());
  auto* tag = r.add_tags();
  tag->set_key("k10");
  tag->set_value("v");
  EXPECT_THAT(Violations(r), ElementsAre("tags"));
}

TEST(ValidateCreateVerifyJob, TagKeyIsOneToThirtyCharacters) {
  auto r = ValidRequest();
  auto* tag = r.add_tags();
  tag->set_key(std::string(30, 'k'));
  tag->set_value("v");
  EXPECT_TRUE(ValidateCreateVerifyJob(r).ok());
  tag->set_key(std::string(31, 'k'));
  EXPECT_THAT(Violations(r), ElementsAre("tags[0].key"));
  tag->set_key("");
  EXPECT_THAT(Violations(r), ElementsAre("tags[0].key"));
}

TEST(ValidateCreateVerifyJob, TagKeyAllowsOnlyLettersDigitsAndDots) {
  auto r = ValidRequest();
  auto* tag = r.add_tags();
  tag->set_key("env.v2");
  tag->set_value("v");
  EXPECT_TRUE(ValidateCreateVerifyJob(r).ok());
  for (const char* bad : {"env-v2", "env_v2", "env v2", "区域"}) {
    SCOPED_TRACE(bad);
    tag->set_key(bad);
    EXPECT_THAT(Violations(r), ElementsAre("tags[0].key"));
  }
}

TEST(ValidateCreateVerifyJob, TagValueIsOneTo1024Characters) {
  auto r = ValidRequest();
  auto* tag = r.add_tags();
  tag->set_key("k");
  std::string value;
  for (int i = 0; i < 1024; ++i) value += "华";  // 1024 characters, 3072 bytes
  tag->set_value(value);
  EXPECT_TRUE(ValidateCreateVerifyJob(r).ok());
  tag->set_value(value + "x");
  EXPECT_THAT(Violations(r), ElementsAre("tags[0].value"));
  tag->set_value("");
  EXPECT_THAT(Violations(r), ElementsAre("tags[0].value"));
}

TEST(ValidateCreateVerifyJob, AllTagKeysAndValuesAtMost4096Characters) {
  auto r = ValidRequest();
  for (int i = 0; i < 4; ++i) {
    auto* tag = r.add_tags();
    tag->set_key("k" + std::to_string(i));  // 2 characters
    tag->set_value(std::string(1022, 'v'));
  }
  EXPECT_TRUE(ValidateCreateVerifyJob(r).ok());  // exactly 4096
  r.mutable_tags(3)->set_value(std::string(1023, 'v'));
  EXPECT_THAT(Violations(r), ElementsAre("tags"));
}

TEST(ValidateCreateVerifyJob, TimeoutIsOneTo1440MinutesWhenSet) {
  auto r = ValidRequest();
  r.set_timeout_in_minutes(1);
  EXPECT_TRUE(ValidateCreateVerifyJob(r).ok());
  r.set_timeout_in_minutes(1440);
  EXPECT_TRUE(ValidateCreateVerifyJob(r).ok());
  r.set_timeout_in_minutes(0);
  EXPECT_THAT(Violations(r), ElementsAre("timeout_in_minutes"));
  r.set_timeout_in_minutes(1441);
  EXPECT_THAT(Violations(r), ElementsAre("timeout_in_minutes"));
}

TEST(ValidateCreateVerifyJob, UnknownDownloadProtocolIsRejected) {
  auto r = ValidRequest();
  r.set_download_protocol(static_cast<v1::DownloadProtocol>(7));
  EXPECT_THAT(Violations(r), ElementsAre("download_protocol"));
}

TEST(ValidateCreateVerifyJob, EveryViolationIsListed) {
  v1::CreateVerifyJobRequest r;
  r.set_timeout_in_minutes(0);
  EXPECT_THAT(Violations(r), ElementsAre("product_key", "firmware_id", "target_device_names",
                                         "timeout_in_minutes"));
}

TEST(CreateVerifyJobCall, FlattensOneBasedAndOmitsUnsetFields) {
  auto r = ValidRequest();
  r.add_target_device_names("dev-002");
  auto* tag = r.add_tags();
  tag->set_key("env");
  tag->set_value("test");
  const RpcCall call = CreateVerifyJobCall(r);
  EXPECT_EQ(call.action, "CreateOTAVerifyJob");
  EXPECT_EQ(call.version, "2018-01-20");
  EXPECT_THAT(call.params, ElementsAre(Pair("ProductKey", "a1Ww7Kp1vCx"),
                                       Pair("FirmwareId", "UfuxnwygsuSkVE0VCNkg0100"),
                                       Pair("TargetDeviceName.1", "dev-001"),
                                       Pair("TargetDeviceName.2", "dev-002"),
                                       Pair("Tag.1.Key", "env"), Pair("Tag.1.Value", "test")));
}

TEST(CreateVerifyJobCall, SendsExplicitFalseAndEveryOptionalField) {
  auto r = ValidRequest();
  r.set_iot_instance_id("iot-060a0xyz");
  r.set_timeout_in_minutes(60);
  r.set_need_push(false);
  r.set_need_confirm(true);
  r.set_download_protocol(v1::DOWNLOAD_PROTOCOL_MQTT);
  const RpcCall call = CreateVerifyJobCall(r);
  EXPECT_THAT(call.params, ::testing::IsSupersetOf({Pair("IotInstanceId", "iot-060a0xyz"),
                                                    Pair("TimeoutInMinutes", "60"),
                                                    Pair("NeedPush", "false"),
                                                    Pair("NeedConfirm", "true"),
                                                    Pair("DownloadProtocol", "MQTT")}));
}

TEST(ParseCreateVerifyJobResponse, ReadsJobIdAndCreateTime) {
  auto parsed = ParseCreateVerifyJobResponse(
      R"({"RequestId":"R1","Success":true,"Data":{"JobId":"J1","UtcCreate":"2019-11-04T06:22:19.566Z"},"Extra":1})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->job_id(), "J1");
  EXPECT_EQ(parsed->upstream_request_id(), "R1");
  EXPECT_EQ(parsed->create_time().seconds(), 1572848539);
  EXPECT_EQ(parsed->create_time().nanos(), 566000000);
}

TEST(ParseCreateVerifyJobResponse, MissingJobIdIsInternal) {
  EXPECT_THAT(ParseCreateVerifyJobResponse(R"({"RequestId":"R1","Success":true,"Data":{}})")
                  .status(),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(ParseCreateVerifyJobResponse("not json").status(),
              StatusIs(absl::StatusCode::kInternal));
}

TEST(ParseCreateVerifyJobResponse, UnreadableCreateTimeIsInternal) {
  EXPECT_THAT(ParseCreateVerifyJobResponse(
                  R"({"RequestId":"R1","Data":{"JobId":"J","UtcCreate":"yesterday"}})")
                  .status(),
              StatusIs(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace otaverify

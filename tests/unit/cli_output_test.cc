// Tests of how the CLI renders outcomes (client/cli_output.h) and of `create`'s output.
#include "client/cli_output.h"

#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "client/cli.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::Status InvalidRequestWithDetails() {
  absl::Status status = absl::InvalidArgumentError("request has 2 invalid fields");
  google::rpc::BadRequest bad_request;
  auto* violation = bad_request.add_field_violations();
  violation->set_field("product_key");
  violation->set_description("must not be empty");
  violation = bad_request.add_field_violations();
  violation->set_field("target_device_names[1]");
  violation->set_description("duplicate \"D1\"");
  SetDetail(status, bad_request);
  google::rpc::ErrorInfo info;
  info.set_reason("INVALID_REQUEST");
  info.set_domain(kErrorDomain);
  (*info.mutable_metadata())["upstream_code"] = "iot.ota.InvalidParam";
  SetDetail(status, info);
  return status;
}

google::protobuf::Struct ParseJsonObject(const std::string& json) {
  google::protobuf::Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return parsed;
}

TEST(CliOutput, ExitCodeIsTheGrpcCodeNumber) {
  EXPECT_EQ(ExitCodeForStatus(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeForStatus(absl::InvalidArgumentError("x")), 3);
  EXPECT_EQ(ExitCodeForStatus(absl::FailedPreconditionError("x")), 9);
  EXPECT_EQ(ExitCodeForStatus(absl::UnavailableError("x")), 14);
}

TEST(CliOutput, TimestampIsRfc3339Utc) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(1716193800);  // 2024-05-20T08:30:00Z
  timestamp.set_nanos(123000000);
  EXPECT_EQ(FormatTimestamp(timestamp), "2024-05-20T08:30:00.123Z");
}

TEST(CliOutput, JsonErrorCarriesCodeMessageAndEveryDetailWithItsType) {
  const std::string json = StatusToJson(InvalidRequestWithDetails(), "REQ-1");
  EXPECT_THAT(json, Not(HasSubstr("\n")));
  const google::protobuf::Struct error = ParseJsonObject(json);
  const auto& fields = error.fields();
  EXPECT_EQ(fields.at("code").string_value(), "INVALID_ARGUMENT");
  EXPECT_EQ(fields.at("message").string_value(), "request has 2 invalid fields");
  EXPECT_EQ(fields.at("upstreamRequestId").string_value(), "REQ-1");

  // ErrorInfo comes first whatever order the status iterates its payloads in.
  const auto& details = fields.at("details").list_value().values();
  ASSERT_EQ(details.size(), 2);
  const auto& error_info = details[0].struct_value().fields();
  EXPECT_EQ(error_info.at("@type").string_value(), "type.googleapis.com/google.rpc.ErrorInfo");
  EXPECT_EQ(error_info.at("reason").string_value(), "INVALID_REQUEST");
  EXPECT_EQ(error_info.at("metadata").struct_value().fields().at("upstream_code").string_value(),
            "iot.ota.InvalidParam");
  const auto& bad_request = details[1].struct_value().fields();
  EXPECT_EQ(bad_request.at("@type").string_value(), "type.googleapis.com/google.rpc.BadRequest");
  const auto& violations = bad_request.at("fieldViolations").list_value().values();
  ASSERT_EQ(violations.size(), 2);
  EXPECT_EQ(violations[0].struct_value().fields().at("field").string_value(), "product_key");
  // Quotes inside a description survive the JSON round trip, i.e. they were escaped.
  EXPECT_EQ(violations[1].struct_value().fields().at("description").string_value(),
            "duplicate \"D1\"");
}

TEST(CliOutput, JsonErrorKeysComeInDocumentedOrder) {
  const std::string json = StatusToJson(InvalidRequestWithDetails(), "REQ-1");
  EXPECT_THAT(json, ::testing::StartsWith(
                        R"({"code":"INVALID_ARGUMENT","message":"request has 2 invalid fields",)"
                        R"("details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",)"));
  EXPECT_THAT(json, ::testing::EndsWith(R"(],"upstreamRequestId":"REQ-1"})"));
}

TEST(CliOutput, JsonErrorEscapesAwkwardMessages) {
  const std::string message = "quote \" backslash \\ newline \n tab \t bell \a";
  const google::protobuf::Struct error =
      ParseJsonObject(StatusToJson(absl::InternalError(message), "id\"1"));
  EXPECT_EQ(error.fields().at("message").string_value(), message);
  EXPECT_EQ(error.fields().at("upstreamRequestId").string_value(), "id\"1");
}

TEST(CliOutput, JsonErrorSurvivesInvalidUtf8) {
  const google::protobuf::Struct error =
      ParseJsonObject(StatusToJson(absl::InternalError("bad \xff byte"), ""));
  EXPECT_THAT(error.fields().at("message").string_value(), HasSubstr("bad"));
}

TEST(CliOutput, JsonErrorWithoutDetailsOrRequestIdHasEmptyDetails) {
  const google::protobuf::Struct error =
      ParseJsonObject(StatusToJson(absl::UnavailableError("connection refused"), ""));
  EXPECT_EQ(error.fields().at("code").string_value(), "UNAVAILABLE");
  EXPECT_EQ(error.fields().at("details").list_value().values_size(), 0);
  EXPECT_EQ(error.fields().count("upstreamRequestId"), 0);
}

TEST(CliOutput, JsonErrorKeepsUnknownDetailTypesOpaque) {
  absl::Status status = absl::InternalError("x");
  status.SetPayload("type.googleapis.com/example.Unknown", absl::Cord("\x01\x02"));
  const google::protobuf::Struct error = ParseJsonObject(StatusToJson(status, ""));
  const auto& detail = error.fields().at("details").list_value().values(0).struct_value().fields();
  EXPECT_EQ(detail.at("@type").string_value(), "type.googleapis.com/example.Unknown");
  EXPECT_EQ(detail.at("value").string_value(), "AQI=");
}

TEST(CliOutput, TextErrorShowsCodeMessageDetailsAndRequestId) {
  std::ostringstream err;
  PrintStatusText(InvalidRequestWithDetails(), "REQ-1", err);
  const std::string text = err.str();
  EXPECT_THAT(text, HasSubstr("error: INVALID_ARGUMENT: request has 2 invalid fields\n"));
  EXPECT_THAT(text, HasSubstr("    product_key: must not be empty\n"));
  EXPECT_THAT(text, HasSubstr("    target_device_names[1]: duplicate \"D1\"\n"));
  EXPECT_THAT(text, HasSubstr("reason: INVALID_REQUEST (domain: otaverify.v1)\n"));
  EXPECT_THAT(text, HasSubstr("    upstream_code: iot.ota.InvalidParam\n"));
  EXPECT_THAT(text, HasSubstr("upstream_request_id: REQ-1\n"));
}

TEST(CliOutput, TextErrorDecodesEveryCommonDetailType) {
  absl::Status status = absl::ResourceExhaustedError("slow down");
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(1);
  retry.mutable_retry_delay()->set_nanos(500000000);
  SetDetail(status, retry);
  google::rpc::QuotaFailure quota;
  auto* quota_violation = quota.add_violations();
  quota_violation->set_subject("account:default");
  quota_violation->set_description("10 calls per second");
  SetDetail(status, quota);
  google::rpc::PreconditionFailure precondition;
  auto* precondition_violation = precondition.add_violations();
  precondition_violation->set_type("FIRMWARE_STATE");
  precondition_violation->set_subject("firmware/FW1");
  precondition_violation->set_description("already verified");
  SetDetail(status, precondition);
  google::rpc::ResourceInfo resource;
  resource.set_resource_type("device");
  resource.set_resource_name("D9");
  resource.set_description("not found");
  SetDetail(status, resource);
  google::rpc::DebugInfo debug;
  debug.set_detail("stack");
  SetDetail(status, debug);
  status.SetPayload("type.googleapis.com/example.Unknown", absl::Cord("abc"));

  std::ostringstream err;
  PrintStatusText(status, "", err);
  const std::string text = err.str();
  EXPECT_THAT(text, HasSubstr("retry after: 1.5s\n"));
  EXPECT_THAT(text, HasSubstr("    account:default: 10 calls per second\n"));
  EXPECT_THAT(text, HasSubstr("    FIRMWARE_STATE firmware/FW1: already verified\n"));
  EXPECT_THAT(text, HasSubstr("resource: device D9: not found\n"));
  EXPECT_THAT(text, HasSubstr("google.rpc.DebugInfo: detail: \"stack\""));
  EXPECT_THAT(text, HasSubstr("type.googleapis.com/example.Unknown: 3 bytes\n"));
  EXPECT_THAT(text, Not(HasSubstr("upstream_request_id")));
}

TEST(CliOutput, DetailsComeInFixedOrderWhateverTheInsertionOrder) {
  google::rpc::RetryInfo retry;
  google::rpc::ErrorInfo info;
  info.set_reason("R");
  google::rpc::DebugInfo debug;
  absl::Status forward = absl::UnavailableError("x");
  SetDetail(forward, debug);
  SetDetail(forward, retry);
  SetDetail(forward, info);
  absl::Status backward = absl::UnavailableError("x");
  SetDetail(backward, info);
  SetDetail(backward, retry);
  SetDetail(backward, debug);

  const std::string json = StatusToJson(forward, "");
  EXPECT_EQ(json, StatusToJson(backward, ""));
  const size_t error_info = json.find("google.rpc.ErrorInfo");
  const size_t retry_info = json.find("google.rpc.RetryInfo");
  const size_t debug_info = json.find("google.rpc.DebugInfo");
  EXPECT_LT(error_info, retry_info);
  EXPECT_LT(retry_info, debug_info);
  EXPECT_NE(debug_info, std::string::npos);
}

v1::CreateVerifyJobResponse SampleResponse() {
  v1::CreateVerifyJobResponse response;
  response.set_job_id("JOB-1");
  response.mutable_create_time()->set_seconds(1716193800);
  response.mutable_create_time()->set_nanos(123000000);
  response.set_upstream_request_id("REQ-1");
  return response;
}

TEST(CliCreateOutput, HumanSuccessListsJobTimeAndRequestId) {
  std::ostringstream out, err;
  EXPECT_EQ(PrintCreateVerifyJobResult(SampleResponse(), CallMetadata{"REQ-1"}, false, out, err),
            0);
  EXPECT_EQ(out.str(),
            "job_id: JOB-1\n"
            "create_time: 2024-05-20T08:30:00.123Z\n"
            "upstream_request_id: REQ-1\n");
  EXPECT_EQ(err.str(), "");
}

TEST(CliCreateOutput, HumanSuccessFallsBackToTrailerRequestId) {
  v1::CreateVerifyJobResponse response = SampleResponse();
  response.clear_upstream_request_id();
  std::ostringstream out, err;
  PrintCreateVerifyJobResult(response, CallMetadata{"FROM-TRAILER"}, false, out, err);
  EXPECT_THAT(out.str(), HasSubstr("upstream_request_id: FROM-TRAILER\n"));
}

TEST(CliCreateOutput, JsonSuccessIsTheResponseInProtoJson) {
  std::ostringstream out, err;
  EXPECT_EQ(PrintCreateVerifyJobResult(SampleResponse(), CallMetadata{}, true, out, err), 0);
  EXPECT_EQ(out.str(), R"({"jobId":"JOB-1","createTime":"2024-05-20T08:30:00.123Z",)"
                       R"("upstreamRequestId":"REQ-1"})"
                       "\n");
}

TEST(CliCreateOutput, HumanFailureGoesToStderrWithGrpcCodeAsExitStatus) {
  std::ostringstream out, err;
  EXPECT_EQ(
      PrintCreateVerifyJobResult(InvalidRequestWithDetails(), CallMetadata{}, false, out, err), 3);
  EXPECT_EQ(out.str(), "");
  EXPECT_THAT(err.str(), HasSubstr("error: INVALID_ARGUMENT:"));
}

TEST(CliCreateOutput, JsonFailureIsOneObjectOnStdout) {
  std::ostringstream out, err;
  EXPECT_EQ(PrintCreateVerifyJobResult(absl::FailedPreconditionError("already verified"),
                                       CallMetadata{"REQ-2"}, true, out, err),
            9);
  EXPECT_EQ(err.str(), "");
  const google::protobuf::Struct error = ParseJsonObject(out.str());
  EXPECT_EQ(error.fields().at("code").string_value(), "FAILED_PRECONDITION");
  EXPECT_EQ(error.fields().at("upstreamRequestId").string_value(), "REQ-2");
}

}  // namespace
}  // namespace otaverify

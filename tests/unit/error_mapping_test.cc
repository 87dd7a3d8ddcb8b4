// The error mapping table (protocol.md §8), the reading of upstream answers in both layers,
// and transport failures.
#include "service/aliyun/error_mapping.h"

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::ErrorReason;
using ::otaverify::testing::StatusIs;
using absl::StatusCode;

struct Row {
  int http;
  const char* code;
  StatusCode want;
  const char* reason;
  bool retryable;
};

// Every code of protocol.md §8, then families of codes nobody documented.
constexpr Row kTable[] = {
    {400, "MissingParameter", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {400, "MissingParameter.FirmwareId", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {400, "InvalidParameter", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {400, "InvalidParameter.Format", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {400, "UnsupportedParameter", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {400, "SignatureDoesNotMatch", StatusCode::kInternal, "GATEWAY_SIGNATURE_REJECTED", false},
    {403, "SignatureDoesNotMatch", StatusCode::kInternal, "GATEWAY_SIGNATURE_REJECTED", false},
    {400, "IncompleteSignature", StatusCode::kInternal, "GATEWAY_SIGNATURE_REJECTED", false},
    {400, "SignatureNonceUsed", StatusCode::kUnavailable, "GATEWAY_NONCE_REUSED", true},
    {400, "InvalidTimeStamp.Expired", StatusCode::kInternal, "GATEWAY_CLOCK_SKEW", false},
    {400, "InvalidTimeStamp.Format", StatusCode::kInternal, "GATEWAY_CLOCK_SKEW", false},
    {404, "InvalidAccessKeyId.NotFound", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {400, "InvalidAccessKeyId.Inactive", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {403, "Forbidden.AccessKeyDisabled", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {400, "InvalidSecurityToken.Expired", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {400, "InvalidSecurityToken.Malformed", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {400, "InvalidSecurityToken.MismatchWithAccessKey", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {400, "MissingSecurityToken", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {403, "Forbidden.RAM", StatusCode::kPermissionDenied, "UPSTREAM_PERMISSION_DENIED", false},
    {403, "Forbidden.NoPermission", StatusCode::kPermissionDenied, "UPSTREAM_PERMISSION_DENIED", false},
    {400, "Throttling", StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED", true},
    {400, "Throttling.User", StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED", true},
    {400, "Throttling.Api", StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED", true},
    {400, "Rejected.Throttling", StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED", true},
    {503, "ServiceUnavailable", StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE", true},
    {500, "InternalError", StatusCode::kUnavailable, "UPSTREAM_INTERNAL_ERROR", true},
    {200, "iot.system.SystemException", StatusCode::kUnavailable, "UPSTREAM_SYSTEM_ERROR", true},
    {200, "iot.system.InstanceNotFound", StatusCode::kNotFound, "IOT_INSTANCE_NOT_FOUND", false},
    {200, "iot.Sre.IotInstanceNotFound", StatusCode::kNotFound, "IOT_INSTANCE_NOT_FOUND", false},
    {200, "iot.prod.NotExistedProduct", StatusCode::kNotFound, "PRODUCT_NOT_FOUND", false},
    {200, "iot.prod.InvalidFormattedProductkey", StatusCode::kInvalidArgument, "INVALID_PRODUCT_KEY", false},
    {200, "iot.device.NotExistedDevice", StatusCode::kNotFound, "DEVICE_NOT_FOUND", false},
    {200, "iot.device.InvalidFormattedDeviceName", StatusCode::kInvalidArgument, "INVALID_DEVICE_NAME", false},
    {200, "iot.device.NoneDeviceNameElement", StatusCode::kInvalidArgument, "INVALID_DEVICE_NAME", false},
    {200, "iot.common.RamActionPermissionDeny", StatusCode::kPermissionDenied, "UPSTREAM_PERMISSION_DENIED", false},
    {200, "iot.common.AuthActionPermissionDeny", StatusCode::kPermissionDenied, "UPSTREAM_PERMISSION_DENIED", false},
    {200, "iot.common.InvalidTenant", StatusCode::kPermissionDenied, "UPSTREAM_INVALID_TENANT", false},
    {200, "Iot.system.BillIsOverDue", StatusCode::kFailedPrecondition, "ACCOUNT_IN_ARREARS", false},
    {200, "iot.ota.VerifyJobIsProcessing", StatusCode::kFailedPrecondition, "FIRMWARE_ALREADY_VERIFYING", false},
    {200, "iot.ota.FirmwareAlreadyVerified", StatusCode::kFailedPrecondition, "FIRMWARE_ALREADY_VERIFIED", false},
    {200, "iot.ota.NotExistedFirmware", StatusCode::kNotFound, "FIRMWARE_NOT_FOUND", false},
    {200, "iot.ota.NotExistedJob", StatusCode::kNotFound, "VERIFY_JOB_NOT_FOUND", false},
    // Undocumented iot.* codes, by family.
    {200, "iot.ota.SomethingNotExist", StatusCode::kNotFound, "UPSTREAM_NOT_FOUND", false},
    {200, "iot.ota.InvalidFirmwareFormat", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {200, "iot.ota.OperationPermissionDeny", StatusCode::kPermissionDenied, "UPSTREAM_PERMISSION_DENIED", false},
    {200, "iot.ota.ServerBusy", StatusCode::kUnavailable, "UPSTREAM_SYSTEM_ERROR", true},
    {200, "iot.ota.InvalidTimeoutInMinutes", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {200, "iot.ota.TimeoutInMinutesIllegal", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {200, "iot.ota.JobStatusConflict", StatusCode::kFailedPrecondition, "UPSTREAM_BUSINESS_ERROR", false},
    // Undocumented gateway-layer codes, by HTTP status.
    {400, "Whatever", StatusCode::kInvalidArgument, "UPSTREAM_INVALID_ARGUMENT", false},
    {401, "Whatever", StatusCode::kInternal, "GATEWAY_CREDENTIALS_REJECTED", false},
    {403, "Whatever", StatusCode::kPermissionDenied, "UPSTREAM_PERMISSION_DENIED", false},
    {404, "Whatever", StatusCode::kNotFound, "UPSTREAM_NOT_FOUND", false},
    {409, "Whatever", StatusCode::kAborted, "UPSTREAM_CONFLICT", false},
    {429, "Whatever", StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED", true},
    {502, "Whatever", StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE", true},
    {418, "Whatever", StatusCode::kUnknown, "UPSTREAM_UNKNOWN_ERROR", false},
};

TEST(ClassifyUpstreamError, MapsEveryDocumentedCodeAndFamily) {
  for (const Row& row : kTable) {
    SCOPED_TRACE(absl::StrCat(row.http, " ", row.code));
    const ErrorClass got = ClassifyUpstreamError(row.http, row.code);
    EXPECT_EQ(got.code, row.want);
    EXPECT_EQ(got.reason, row.reason);
    EXPECT_EQ(got.retryable, row.retryable);
  }
}

HttpResponse Response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(ReadUpstreamReply, SuccessIsOk) {
  const UpstreamReply reply = ReadUpstreamReply(
      Response(200, R"({"RequestId":"R1","Success":true,"Data":{"JobId":"J"}})"), {"A"});
  EXPECT_TRUE(reply.status.ok());
  EXPECT_EQ(reply.request_id, "R1");
}

TEST(ReadUpstreamReply, BusinessErrorOnHttp200IsAnError) {
  const UpstreamReply reply = ReadUpstreamReply(
      Response(200, R"({"RequestId":"R2","Success":false,"Code":"iot.prod.NotExistedProduct","ErrorMessage":"no such product"})"),
      {"CreateOTAVerifyJob"});
  EXPECT_THAT(reply.status, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(reply.request_id, "R2");
  auto info = GetDetail<google::rpc::ErrorInfo>(reply.status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "PRODUCT_NOT_FOUND");
  EXPECT_EQ(info->domain(), "otaverify.v1");
  EXPECT_EQ(info->metadata().at("upstream_code"), "iot.prod.NotExistedProduct");
  EXPECT_EQ(info->metadata().at("upstream_message"), "no such product");
  EXPECT_EQ(info->metadata().at("upstream_request_id"), "R2");
  EXPECT_EQ(info->metadata().at("action"), "CreateOTAVerifyJob");
  EXPECT_THAT(std::string(reply.status.message()), ::testing::HasSubstr("no such product"));
}

TEST(ReadUpstreamReply, SuccessFalseWithoutCodeIsUnknown) {
  const UpstreamReply reply =
      ReadUpstreamReply(Response(200, R"({"RequestId":"R","Success":false})"), {"A"});
  EXPECT_THAT(reply.status, StatusIs(StatusCode::kUnknown));
}

TEST(ReadUpstreamReply, GatewayLayerThrottlingOn400IsRetryableExhaustion) {
  const UpstreamReply reply = ReadUpstreamReply(
      Response(400, R"({"RequestId":"R3","HostId":"h","Code":"Throttling.User","Message":"slow down"})"),
      {"A"});
  EXPECT_THAT(reply.status, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_TRUE(GetDetail<google::rpc::RetryInfo>(reply.status).has_value());
  EXPECT_EQ(ErrorReason(reply.status), "UPSTREAM_THROTTLED");
}

TEST(ReadUpstreamReply, XmlErrorBodyIsRead) {
  const UpstreamReply reply = ReadUpstreamReply(
      Response(400,
               "<?xml version=\"1.0\"?><Error><RequestId>RX</RequestId><Code>SignatureDoesNotMatch"
               "</Code><Message>nope</Message></Error>"),
      {"A"});
  EXPECT_THAT(reply.status, StatusIs(StatusCode::kInternal));
  EXPECT_EQ(reply.request_id, "RX");
  EXPECT_EQ(reply.code, "SignatureDoesNotMatch");
}

TEST(ReadUpstreamReply, NonJsonErrorPageMapsByHttpStatus) {
  EXPECT_THAT(ReadUpstreamReply(Response(502, "<html>bad gateway</html>"), {"A"}).status,
              StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(ReadUpstreamReply(Response(200, "garbage"), {"A"}).status,
              StatusIs(StatusCode::kUnknown));
}

TEST(MapTransportFailure, NothingSentIsUnavailableWithRetryInfo) {
  const absl::Status s = MapTransportFailure(absl::UnavailableError("refused"), {"A", false});
  EXPECT_THAT(s, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(ErrorReason(s), "UPSTREAM_UNREACHABLE");
  EXPECT_TRUE(GetDetail<google::rpc::RetryInfo>(s).has_value());
}

TEST(MapTransportFailure, CreateFailingAfterSendIsOutcomeUnknown) {
  EXPECT_EQ(ErrorReason(MapTransportFailure(absl::UnknownError("reset"), {"A", false})),
            "UPSTREAM_OUTCOME_UNKNOWN");
  EXPECT_THAT(MapTransportFailure(absl::UnknownError("reset"), {"A", false}),
              StatusIs(StatusCode::kUnknown));
  EXPECT_EQ(ErrorReason(MapTransportFailure(absl::DeadlineExceededError("t"), {"A", false})),
            "UPSTREAM_OUTCOME_UNKNOWN");
  EXPECT_THAT(MapTransportFailure(absl::DeadlineExceededError("t"), {"A", true}),
              StatusIs(StatusCode::kDeadlineExceeded));
}

TEST(MapTransportFailure, TimeoutBeforeAnythingWasSentIsNotOutcomeUnknown) {
  const absl::Status s =
      MapTransportFailure(NotSent(absl::DeadlineExceededError("t")), {"A", false});
  EXPECT_THAT(s, StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_EQ(ErrorReason(s), "UPSTREAM_TIMEOUT");
}

TEST(ReadUpstreamReply, NonceReuseOnACreateIsOutcomeUnknown) {
  const HttpResponse r = Response(400, R"({"RequestId":"R","Code":"SignatureNonceUsed"})");
  const absl::Status create = ReadUpstreamReply(r, {"CreateOTAVerifyJob", false}).status;
  EXPECT_EQ(ErrorReason(create), "UPSTREAM_OUTCOME_UNKNOWN");
  EXPECT_FALSE(GetDetail<google::rpc::RetryInfo>(create).has_value());
  EXPECT_EQ(ErrorReason(ReadUpstreamReply(r, {"QueryOTAJob", true}).status),
            "GATEWAY_NONCE_REUSED");
}

TEST(ReadUpstreamReply, SecretsAreRedactedEvenWhenJsonEscaped) {
  Credentials creds;
  creds.access_key_id = "id";
  creds.access_key_secret = "sec/ret";
  creds.security_token = "tok/en+";
  // "\/" is a valid JSON escape of '/': only the parsed text shows the token.
  const HttpResponse r = Response(
      400, R"({"RequestId":"R","Code":"SignatureDoesNotMatch","Message":"sts tok\/en+ and sec\/ret, encoded tok%2Fen%2B"})");
  const UpstreamReply reply = ReadUpstreamReply(r, {"A", false, &creds});
  const std::string everything =
      absl::StrCat(reply.message, reply.status.message(),
                   GetDetail<google::rpc::ErrorInfo>(reply.status)->DebugString());
  EXPECT_THAT(everything, ::testing::Not(::testing::HasSubstr("tok/en")));
  EXPECT_THAT(everything, ::testing::Not(::testing::HasSubstr("sec/ret")));
  EXPECT_THAT(everything, ::testing::Not(::testing::HasSubstr("tok%2Fen")));
  EXPECT_THAT(everything, ::testing::HasSubstr("<redacted>"));
}

TEST(MapTransportFailure, OversizedBodyIsInternal) {
  EXPECT_THAT(MapTransportFailure(absl::ResourceExhaustedError("big"), {"A", true}),
              StatusIs(StatusCode::kInternal));
}

}  // namespace
}  // namespace otaverify

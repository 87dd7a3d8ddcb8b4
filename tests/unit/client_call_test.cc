// In-process tests of the Client library against a fake OtaVerify service on 127.0.0.1:0.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

// GetDetail<T> from rich_status.h, spelled so it builds with an absl whose Status::GetPayload
// returns absl::optional (Debian's), until rich_status.h itself does.
template <typename T>
std::optional<T> Detail(const absl::Status& status) {
  T message;
  const auto payload = status.GetPayload(DetailTypeUrl(message));
  if (!payload.has_value() || !message.ParseFromString(std::string(*payload))) return std::nullopt;
  return message;
}

// Answers every call with a canned response or error and records what it received.
class FakeOtaVerify final : public v1::OtaVerify::Service {
 public:
  void Answer(absl::Status error, v1::CreateVerifyJobResponse response,
              std::string upstream_request_id) {
    absl::MutexLock lock(&mu_);
    error_ = std::move(error);
    response_ = std::move(response);
    upstream_request_id_ = std::move(upstream_request_id);
  }
  // Holds every call until `release` is notified.
  void HoldUntil(absl::Notification* release) {
    absl::MutexLock lock(&mu_);
    hold_ = release;
  }
  v1::CreateVerifyJobRequest last_request() const {
    absl::MutexLock lock(&mu_);
    return last_request_;
  }

  grpc::Status CreateVerifyJob(grpc::ServerContext* context,
                               const v1::CreateVerifyJobRequest* request,
                               v1::CreateVerifyJobResponse* response) override {
    absl::Notification* hold;
    {
      absl::MutexLock lock(&mu_);
      last_request_ = *request;
      hold = hold_;
    }
    if (hold != nullptr) hold->WaitForNotification();
    absl::MutexLock lock(&mu_);
    if (!upstream_request_id_.empty()) {
      context->AddTrailingMetadata(kUpstreamRequestIdTrailer, upstream_request_id_);
    }
    if (!error_.ok()) return ToGrpcStatus(error_);
    *response = response_;
    return grpc::Status::OK;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  v1::CreateVerifyJobResponse response_ ABSL_GUARDED_BY(mu_);
  std::string upstream_request_id_ ABSL_GUARDED_BY(mu_);
  v1::CreateVerifyJobRequest last_request_ ABSL_GUARDED_BY(mu_);
  absl::Notification* hold_ ABSL_GUARDED_BY(mu_) = nullptr;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    target_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // Outlives the server (Shutdown in TearDown waits for handlers), so a handler that is still
  // waking from WaitForNotification never touches a destroyed Notification.
  absl::Notification release_;
  FakeOtaVerify service_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
};

v1::CreateVerifyJobRequest SampleRequest() {
  v1::CreateVerifyJobRequest request;
  request.set_product_key("a1PK");
  request.set_firmware_id("FW1");
  request.add_target_device_names("D1");
  request.set_need_push(false);
  return request;
}

TEST_F(ClientTest, OkResponseAndUpstreamRequestIdReachCaller) {
  v1::CreateVerifyJobResponse canned;
  canned.set_job_id("JOB-1");
  canned.set_upstream_request_id("REQ-1");
  canned.mutable_create_time()->set_seconds(1716193800);
  service_.Answer(absl::OkStatus(), canned, "REQ-1");

  CallMetadata metadata;
  const absl::StatusOr<v1::CreateVerifyJobResponse> response =
      Client::Connect(target_).CreateVerifyJob(SampleRequest(), {}, &metadata);

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->job_id(), "JOB-1");
  EXPECT_EQ(response->create_time().seconds(), 1716193800);
  EXPECT_EQ(metadata.upstream_request_id, "REQ-1");
  const v1::CreateVerifyJobRequest seen = service_.last_request();
  EXPECT_EQ(seen.product_key(), "a1PK");
  EXPECT_TRUE(seen.has_need_push());
  EXPECT_FALSE(seen.need_push());
  EXPECT_FALSE(seen.has_need_confirm());
}

TEST_F(ClientTest, ErrorKeepsCodeMessageDetailsAndUpstreamRequestId) {
  absl::Status error = absl::FailedPreconditionError("package is already verified");
  google::rpc::ErrorInfo info;
  info.set_reason("FIRMWARE_ALREADY_VERIFIED");
  info.set_domain(kErrorDomain);
  (*info.mutable_metadata())["upstream_request_id"] = "REQ-9";
  SetDetail(error, info);
  google::rpc::BadRequest bad_request;
  bad_request.add_field_violations()->set_field("firmware_id");
  SetDetail(error, bad_request);
  service_.Answer(error, {}, "REQ-9");

  CallMetadata metadata;
  const absl::StatusOr<v1::CreateVerifyJobResponse> response =
      Client::Connect(target_).CreateVerifyJob(SampleRequest(), {}, &metadata);

  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(response.status().message(), "package is already verified");
  const std::optional<google::rpc::ErrorInfo> got_info =
      Detail<google::rpc::ErrorInfo>(response.status());
  ASSERT_TRUE(got_info.has_value());
  EXPECT_EQ(got_info->reason(), "FIRMWARE_ALREADY_VERIFIED");
  EXPECT_EQ(got_info->metadata().at("upstream_request_id"), "REQ-9");
  const std::optional<google::rpc::BadRequest> got_bad_request =
      Detail<google::rpc::BadRequest>(response.status());
  ASSERT_TRUE(got_bad_request.has_value());
  EXPECT_EQ(got_bad_request->field_violations(0).field(), "firmware_id");
  EXPECT_EQ(metadata.upstream_request_id, "REQ-9");
}

TEST_F(ClientTest, MissingTrailerLeavesRequestIdEmpty) {
  service_.Answer(absl::InvalidArgumentError("bad"), {}, "");
  CallMetadata metadata{"stale"};
  const auto response = Client::Connect(target_).CreateVerifyJob(SampleRequest(), {}, &metadata);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metadata.upstream_request_id, "");
}

TEST_F(ClientTest, MetadataOutParameterIsOptional) {
  service_.Answer(absl::OkStatus(), {}, "REQ-1");
  const Client client(grpc::CreateChannel(target_, grpc::InsecureChannelCredentials()));
  EXPECT_TRUE(client.CreateVerifyJob(SampleRequest()).ok());
}

TEST_F(ClientTest, SlowServerHitsTheDeadline) {
  service_.HoldUntil(&release_);
  CallOptions options;
  options.deadline = absl::Milliseconds(100);
  const auto response = Client::Connect(target_).CreateVerifyJob(SampleRequest(), options);
  release_.Notify();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(ClientTest, ClosedPortFailsFastWithUnavailable) {
  // Take a port the OS just handed out and freed; nothing listens there any more.
  const std::string closed = target_;
  server_->Shutdown();
  server_.reset();
  const auto response = Client::Connect(closed).CreateVerifyJob(SampleRequest());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace otaverify

// Tests of `otaverify create`: request building from flags, usage errors, and the whole tool
// run in-process against a fake OtaVerify service on 127.0.0.1:0.
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/cli.h"
#include "client/cli_output.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const CliCommand& Create() {
  for (const CliCommand& command : CliCommands()) {
    if (command.name == "create") return command;
  }
  ADD_FAILURE() << "no create command";
  return CliCommands().front();
}

absl::StatusOr<v1::CreateVerifyJobRequest> Build(const std::vector<std::string>& args) {
  absl::StatusOr<CliFlags> flags = ParseCliFlags(Create().flags, args);
  if (!flags.ok()) return flags.status();
  return BuildCreateVerifyJobRequest(*flags);
}

TEST(CliCreateRequest, EveryFlagReachesItsField) {
  const absl::StatusOr<v1::CreateVerifyJobRequest> request = Build({
      "--account",
      "prod",
      "--product_key",
      "a1PK",
      "--firmware_id=FW1",  //
      "--device",
      "D1",
      "--device",
      "D2",
      "--tag",
      "k=v",
      "--tag=k2=v=2",  //
      "--iot_instance_id",
      "iot-1",
      "--timeout_minutes",
      "30",  //
      "--need_push=true",
      "--need_confirm=false",
      "--download_protocol",
      "mqtt",
  });
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->account(), "prod");
  EXPECT_EQ(request->product_key(), "a1PK");
  EXPECT_EQ(request->firmware_id(), "FW1");
  EXPECT_THAT(request->target_device_names(), ElementsAre("D1", "D2"));
  ASSERT_EQ(request->tags_size(), 2);
  EXPECT_EQ(request->tags(0).key(), "k");
  EXPECT_EQ(request->tags(0).value(), "v");
  EXPECT_EQ(request->tags(1).key(), "k2");
  EXPECT_EQ(request->tags(1).value(), "v=2");  // split on the first '='
  EXPECT_EQ(request->iot_instance_id(), "iot-1");
  ASSERT_TRUE(request->has_timeout_in_minutes());
  EXPECT_EQ(request->timeout_in_minutes(), 30);
  ASSERT_TRUE(request->has_need_push());
  EXPECT_TRUE(request->need_push());
  ASSERT_TRUE(request->has_need_confirm());
  EXPECT_FALSE(request->need_confirm());
  EXPECT_EQ(request->download_protocol(), v1::DOWNLOAD_PROTOCOL_MQTT);
}

TEST(CliCreateRequest, OptionalFieldsStayUnsetWhenFlagsAreAbsent) {
  const absl::StatusOr<v1::CreateVerifyJobRequest> request = Build({});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_FALSE(request->has_timeout_in_minutes());
  EXPECT_FALSE(request->has_need_push());
  EXPECT_FALSE(request->has_need_confirm());
  EXPECT_EQ(request->download_protocol(), v1::DOWNLOAD_PROTOCOL_UNSPECIFIED);
}

TEST(CliCreateRequest, BusinessRulesAreLeftToTheGateway) {
  // Zero devices, an empty tag key and an out-of-range timeout are the gateway's to reject.
  const absl::StatusOr<v1::CreateVerifyJobRequest> request =
      Build({"--tag", "=v", "--timeout_minutes", "-1"});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->tags(0).key(), "");
  EXPECT_EQ(request->timeout_in_minutes(), -1);
}

TEST(CliCreateRequest, DownloadProtocolIsCaseInsensitive) {
  EXPECT_EQ(Build({"--download_protocol=Https"})->download_protocol(), v1::DOWNLOAD_PROTOCOL_HTTPS);
}

TEST(CliCreateRequest, UnknownDownloadProtocolNamesTheFlag) {
  const auto request = Build({"--download_protocol=ftp"});
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(request.status().message(), HasSubstr("--download_protocol"));
}

TEST(CliCreateRequest, TagWithoutEqualsNamesTheFlag) {
  const auto request = Build({"--tag", "novalue"});
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(request.status().message(), HasSubstr("--tag"));
}

TEST(CliCreateRequest, CallOptionsComeFromDeadlineAndWaitForReady) {
  absl::StatusOr<CliFlags> defaults = ParseCliFlags(Create().flags, {});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(BuildCallOptions(*defaults).deadline, absl::Seconds(10));
  EXPECT_FALSE(BuildCallOptions(*defaults).wait_for_ready);
  absl::StatusOr<CliFlags> given = ParseCliFlags(
      Create().flags, std::vector<std::string>{"--deadline", "500ms", "--wait_for_ready"});
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(BuildCallOptions(*given).deadline, absl::Milliseconds(500));
  EXPECT_TRUE(BuildCallOptions(*given).wait_for_ready);
}

struct RunResult {
  int exit_status;
  std::string out;
  std::string err;
};

RunResult RunTool(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int exit_status = RunCli(args, out, err);
  return {exit_status, out.str(), err.str()};
}

TEST(CliUsage, NoArgumentsIsUsageError) {
  const RunResult result = RunTool({});
  EXPECT_EQ(result.exit_status, kUsageExitCode);
  EXPECT_THAT(result.err, HasSubstr("usage: otaverify"));
}

TEST(CliUsage, HelpListsCommandsAndExitStatuses) {
  const RunResult result = RunTool({"--help"});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_THAT(result.out, HasSubstr("create"));
  EXPECT_THAT(result.out, HasSubstr("UNKNOWN"));  // the 2 overlap is documented
}

TEST(CliUsage, CreateHelpListsItsFlags) {
  const RunResult result = RunTool({"create", "--product_key", "x", "--help"});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_THAT(result.out, HasSubstr("--device NAME"));
  EXPECT_THAT(result.out, HasSubstr("--target HOST:PORT"));
  EXPECT_THAT(result.out, HasSubstr("[default: 127.0.0.1:50051]"));
}

TEST(CliUsage, UnknownCommandIsUsageError) {
  const RunResult result = RunTool({"crate"});
  EXPECT_EQ(result.exit_status, kUsageExitCode);
  EXPECT_THAT(result.err, HasSubstr("unknown command \"crate\""));
}

TEST(CliUsage, BadFlagsExitWithTwoNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"create", "--bogus", "1"}, "--bogus"},
      {{"create", "--product_key"}, "--product_key"},
      {{"create", "--need_push=maybe"}, "--need_push"},
      {{"create", "--timeout_minutes", "ten"}, "--timeout_minutes"},
      {{"create", "--deadline", "soon"}, "--deadline"},
      {{"create", "--tag", "novalue"}, "--tag"},
      {{"create", "stray"}, "stray"},
  };
  for (const auto& [args, flag] : cases) {
    const RunResult result = RunTool(args);
    EXPECT_EQ(result.exit_status, kUsageExitCode) << flag;
    EXPECT_THAT(result.err, HasSubstr(flag));
    EXPECT_EQ(result.out, "") << flag;
  }
}

// A one-method fake gateway: records the request, answers with a canned outcome.
class FakeOtaVerify final : public v1::OtaVerify::Service {
 public:
  void Answer(absl::Status error, v1::CreateVerifyJobResponse response) {
    absl::MutexLock lock(&mu_);
    error_ = std::move(error);
    response_ = std::move(response);
  }
  v1::CreateVerifyJobRequest last_request() const {
    absl::MutexLock lock(&mu_);
    return last_request_;
  }
  grpc::Status CreateVerifyJob(grpc::ServerContext* context,
                               const v1::CreateVerifyJobRequest* request,
                               v1::CreateVerifyJobResponse* response) override {
    absl::MutexLock lock(&mu_);
    last_request_ = *request;
    context->AddTrailingMetadata(kUpstreamRequestIdTrailer, "REQ-7");
    if (!error_.ok()) return ToGrpcStatus(error_);
    *response = response_;
    return grpc::Status::OK;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  v1::CreateVerifyJobResponse response_ ABSL_GUARDED_BY(mu_);
  v1::CreateVerifyJobRequest last_request_ ABSL_GUARDED_BY(mu_);
};

class CliCreateEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    target_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override { server_->Shutdown(); }

  FakeOtaVerify service_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
};

TEST_F(CliCreateEndToEnd, SuccessPrintsJobAndExitsZero) {
  v1::CreateVerifyJobResponse canned;
  canned.set_job_id("JOB-7");
  canned.mutable_create_time()->set_seconds(1716193800);
  canned.set_upstream_request_id("REQ-7");
  service_.Answer(absl::OkStatus(), canned);

  const RunResult result =
      RunTool({"create", "--target", target_, "--product_key", "a1PK", "--firmware_id", "FW1",
               "--device", "D1", "--device", "D2", "--need_confirm=true", "--deadline", "5s"});

  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out,
            "job_id: JOB-7\ncreate_time: 2024-05-20T08:30:00Z\nupstream_request_id: REQ-7\n");
  const v1::CreateVerifyJobRequest seen = service_.last_request();
  EXPECT_THAT(seen.target_device_names(), ElementsAre("D1", "D2"));
  EXPECT_TRUE(seen.need_confirm());
  EXPECT_FALSE(seen.has_need_push());
}

TEST_F(CliCreateEndToEnd, JsonFailureCarriesDetailsAndExitsWithGrpcCode) {
  absl::Status error = absl::InvalidArgumentError("request has 1 invalid field");
  google::rpc::BadRequest bad_request;
  auto* violation = bad_request.add_field_violations();
  violation->set_field("target_device_names");
  violation->set_description("must name 1 to 10 devices");
  SetDetail(error, bad_request);
  google::rpc::ErrorInfo info;
  info.set_reason("INVALID_REQUEST");
  info.set_domain(kErrorDomain);
  SetDetail(error, info);
  service_.Answer(error, {});

  const RunResult result = RunTool({"create", "--target=" + target_, "--json"});

  EXPECT_EQ(result.exit_status, 3);
  EXPECT_EQ(result.err, "");
  google::protobuf::Struct json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(result.out, &json).ok()) << result.out;
  EXPECT_EQ(json.fields().at("code").string_value(), "INVALID_ARGUMENT");
  EXPECT_EQ(json.fields().at("upstreamRequestId").string_value(), "REQ-7");
  EXPECT_THAT(result.out, HasSubstr(R"("@type":"type.googleapis.com/google.rpc.BadRequest")"));
  EXPECT_THAT(result.out, HasSubstr(R"("@type":"type.googleapis.com/google.rpc.ErrorInfo")"));
  EXPECT_THAT(result.out, HasSubstr(R"("field":"target_device_names")"));
}

TEST_F(CliCreateEndToEnd, TextFailureGoesToStderr) {
  service_.Answer(absl::FailedPreconditionError("package is already verified"), {});
  const RunResult result = RunTool({"create", "--target", target_});
  EXPECT_EQ(result.exit_status, 9);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err, HasSubstr("error: FAILED_PRECONDITION: package is already verified\n"));
  EXPECT_THAT(result.err, HasSubstr("upstream_request_id: REQ-7\n"));
}

}  // namespace
}  // namespace otaverify

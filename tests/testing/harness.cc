#include "tests/testing/harness.h"

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "service/status/rich_status.h"

namespace otaverify::testing {

absl::StatusOr<TestCa> MakeTestCa(const std::string& dir) {
  absl::StatusOr<CommandResult> made = RunCommand(
      {"/bin/sh", absl::StrCat(OTAVERIFY_SOURCE_DIR, "/tests/testing/make_test_ca.sh"), dir});
  if (!made.ok()) return made.status();
  if (made->exit_status != 0) {
    return absl::InternalError(absl::StrCat("make_test_ca.sh failed: ", made->output));
  }
  return TestCa{dir};
}

Harness::~Harness() {
  // Whatever the test did, the signing secret never reached either process's output.
  std::string logs = emulator_ != nullptr ? emulator_->Output() : "";
  if (gateway_ != nullptr) logs += gateway_->Output();
  for (const auto& gateway : other_gateways_) logs += gateway->Output();
  EXPECT_EQ(logs.find(kEmulatorSecret), std::string::npos) << "the AccessKey secret was logged";
}

absl::Status Harness::StartEmulator(std::vector<std::string> args, const TestCa* ca,
                                    const std::string& listen) {
  std::vector<std::string> argv = {OTAVERIFY_EMULATOR_BIN, "--listen=" + listen};
  if (ca != nullptr) {
    argv.push_back("--tls_cert=" + ca->server_cert());
    argv.push_back("--tls_key=" + ca->server_key());
    emulator_ca_ = ca->ca();
  }
  for (auto& a : args) argv.push_back(std::move(a));
  absl::StatusOr<std::unique_ptr<ChildProcess>> emulator = ChildProcess::Start(argv);
  if (!emulator.ok()) return emulator.status();
  emulator_ = *std::move(emulator);
  absl::StatusOr<std::string> address = emulator_->WaitForAddress();
  if (!address.ok()) return address.status();
  emulator_url_ = absl::StrCat(ca != nullptr ? "https://" : "http://", *address);
  return absl::OkStatus();
}

namespace {

// The gateway's command line and environment: pointed at the emulator, signing with its key.
std::vector<std::string> GatewayArgv(const std::string& emulator_url, const std::string& ca,
                                     std::vector<std::string> args) {
  // Admission is off unless a test turns it on (a later flag wins): most tests measure other
  // things at rates far above an account's quota.
  // Metrics on a free loopback port, so gateways of tests running side by side never collide.
  std::vector<std::string> argv = {OTAVERIFY_GATEWAY_BIN, "--listen=127.0.0.1:0",
                                   "--metrics_listen=127.0.0.1:0", "--endpoint=" + emulator_url,
                                   "--upstream_quotas=off"};
  if (absl::StartsWith(emulator_url, "http://")) argv.push_back("--allow_insecure_endpoint");
  if (!ca.empty()) argv.push_back("--ca_file=" + ca);
  for (auto& a : args) argv.push_back(std::move(a));
  return argv;
}

std::vector<std::string> GatewayEnv(const std::string& emulator_url, std::vector<std::string> env) {
  std::vector<std::string> environment = {
      absl::StrCat("ALIBABA_CLOUD_ACCESS_KEY_ID=", kEmulatorKeyId),
      absl::StrCat("ALIBABA_CLOUD_ACCESS_KEY_SECRET=", kEmulatorSecret),
      "ALIBABA_CLOUD_SECURITY_TOKEN=",
      // Tests never reach the real metadata service; those that need one use the emulator's.
      "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true",
      absl::StrCat("ALIBABA_CLOUD_IMDS_ENDPOINT=", emulator_url)};
  for (auto& e : env) environment.push_back(std::move(e));  // a later entry wins
  return environment;
}

}  // namespace

absl::Status Harness::StartGateway(std::vector<std::string> args, std::vector<std::string> env) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> gateway =
      ChildProcess::Start(GatewayArgv(emulator_url_, emulator_ca_, std::move(args)),
                          GatewayEnv(emulator_url_, std::move(env)));
  if (!gateway.ok()) return gateway.status();
  gateway_ = *std::move(gateway);
  absl::StatusOr<std::string> address = gateway_->WaitForAddress();
  if (!address.ok()) return address.status();
  gateway_address_ = *address;
  stub_ = v1::OtaVerify::NewStub(
      grpc::CreateChannel(gateway_address_, grpc::InsecureChannelCredentials()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Harness::StartAnotherGateway(std::vector<std::string> args) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> gateway = ChildProcess::Start(
      GatewayArgv(emulator_url_, emulator_ca_, std::move(args)), GatewayEnv(emulator_url_, {}));
  if (!gateway.ok()) return gateway.status();
  absl::StatusOr<std::string> address = (*gateway)->WaitForAddress();
  other_gateways_.push_back(*std::move(gateway));
  return address;
}

CallResult Harness::Create(const v1::CreateVerifyJobRequest& request, absl::Duration deadline) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  CallResult call;
  call.status = FromGrpcStatus(stub_->CreateVerifyJob(&context, request, &call.response));
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("x-upstream-request-id");
  if (it != trailers.end()) {
    call.upstream_request_id = std::string(it->second.data(), it->second.size());
  }
  return call;
}

namespace {

std::unique_ptr<httplib::Client> ControlClient(const std::string& url, const std::string& ca) {
  auto client = std::make_unique<httplib::Client>(url);
  if (!ca.empty()) client->set_ca_cert_path(ca.c_str());
  client->set_connection_timeout(5);
  return client;
}

}  // namespace

google::protobuf::Struct Harness::EmulatorStats() {
  google::protobuf::Struct stats;
  auto result = ControlClient(emulator_url_, emulator_ca_)->Get("/_emulator/stats");
  if (result && result->status == 200) {
    // An unreadable body leaves `stats` empty, which every caller's assertion then reports.
    (void)google::protobuf::util::JsonStringToMessage(result->body, &stats);
  }
  return stats;
}

double Harness::Stat(const std::string& name) {
  const google::protobuf::Struct stats = EmulatorStats();
  auto it = stats.fields().find(name);
  return it == stats.fields().end() ? -1 : it->second.number_value();
}

absl::StatusOr<std::string> Harness::EmulatorControl(const std::string& method,
                                                     const std::string& path,
                                                     const std::string& body) {
  std::unique_ptr<httplib::Client> client = ControlClient(emulator_url_, emulator_ca_);
  httplib::Result result = method == "GET" ? client->Get(path.c_str())
                           : method == "DELETE"
                               ? client->Delete(path.c_str())
                               : client->Post(path.c_str(), body, "application/json");
  if (!result || result->status != 200) {
    return absl::InternalError(
        absl::StrCat(method, " ", path, " failed: ", result ? result->body : "no answer"));
  }
  return result->body;
}

absl::Status Harness::ArmFault(const std::string& fault, int count, int delay_ms,
                               const std::string& action) {
  // delay_ms is only accepted by the faults that use it.
  const std::string body =
      absl::StrCat(R"({"fault":")", fault, R"(","count":)", count,
                   delay_ms > 0 ? absl::StrCat(R"(,"delay_ms":)", delay_ms) : "",
                   action.empty() ? "" : absl::StrCat(R"(,"action":")", action, R"(")"), "}");
  return EmulatorControl("POST", "/_emulator/faults", body).status();
}

v1::CreateVerifyJobRequest Harness::DemoRequest(const std::string& firmware) {
  v1::CreateVerifyJobRequest r;
  r.set_product_key("a1DemoProduct");
  r.set_firmware_id(firmware);
  r.add_target_device_names("demo-device-1");
  r.add_target_device_names("demo-device-2");
  auto* tag = r.add_tags();
  tag->set_key("env");
  tag->set_value("华东 staging/+=*~");
  r.set_timeout_in_minutes(60);
  r.set_need_push(true);
  r.set_need_confirm(false);
  r.set_download_protocol(v1::DOWNLOAD_PROTOCOL_HTTPS);
  return r;
}

std::string Harness::WriteLoadSeed(int firmwares) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/load-seed-", firmwares, ".json");
  std::ofstream seed(path);
  seed << R"({"instances":[],"products":[{"product_key":"a1LoadProduct","iot_instance_id":"",)"
       << R"("devices":["load-device-1"],"firmwares":[)";
  for (int i = 0; i < firmwares; ++i) {
    seed << (i ? "," : "") << R"({"firmware_id":"load-fw-)" << i << R"(","status":0})";
  }
  seed << "]}]}";
  return path;
}

v1::CreateVerifyJobRequest Harness::LoadRequest(int firmware) {
  v1::CreateVerifyJobRequest r;
  r.set_product_key("a1LoadProduct");
  r.set_firmware_id(absl::StrCat("load-fw-", firmware));
  r.add_target_device_names("load-device-1");
  return r;
}

}  // namespace otaverify::testing

// Upstream quotas in the emulator (quota.h; protocol.md §1): off by default, a token bucket per
// action when on (burst = rate), Throttling.User without processing when over, the control
// endpoint /_emulator/quota, and the accepted_per_second / throttled stats.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "emulator/emulator_server.h"
#include "emulator/quota.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());
const int64_t kNowSecond = absl::ToUnixSeconds(kNow);

// One product with devices and 40 unverified packages, so every create can succeed.
Seed ManyFirmwareSeed() {
  std::string json = R"({"products":[{"product_key":"p","devices":["d"],"firmwares":[)";
  for (int i = 1; i <= 40; ++i) {
    absl::StrAppend(&json, i > 1 ? "," : "", R"({"firmware_id":"fw-)", i, R"(","status":0})");
  }
  json += "]}]}";
  absl::StatusOr<Seed> seed = ParseSeedJson(json);
  EXPECT_TRUE(seed.ok()) << seed.status();
  return *seed;
}

class EmulatorQuota : public ::testing::Test {
 protected:
  void StartServer(QuotaSettings quota) {
    EmulatorOptions options;
    options.seed = ManyFirmwareSeed();
    options.worker_threads = 4;
    options.quota = std::move(quota);
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }
  void SetUp() override { StartServer(QuotaSettings()); }

  static QuotaSettings On() {
    QuotaSettings quota;
    quota.enabled = true;
    return quota;
  }

  struct Result {
    int status = 0;
    google::protobuf::Struct json;
    std::string Str(const std::string& key) const {
      auto it = json.fields().find(key);
      return it == json.fields().end() ? "<absent>" : it->second.string_value();
    }
    bool Throttled() const { return status == 400 && Str("Code") == "Throttling.User"; }
  };

  Result Call(const std::string& action, Params params,
              const Credentials& credentials = TestClient::DefaultCredentials()) {
    RpcCall call;
    call.action = action;
    call.params = std::move(params);
    const auto reply = client_->Call(call, SignatureVersion::kV3, clock_.Now(),
                                     absl::StrCat("nonce-", ++nonce_counter_), credentials);
    Result result;
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return result;
    result.status = reply->status;
    auto json = TestClient::ParseJson(reply->body);
    EXPECT_TRUE(json.ok()) << json.status() << reply->body;
    if (json.ok()) result.json = *json;
    return result;
  }

  // A create that succeeds unless throttled: each uses a fresh package.
  Result Create() {
    return Call("CreateOTAVerifyJob", {{"FirmwareId", absl::StrCat("fw-", ++firmware_counter_)},
                                       {"ProductKey", "p"},
                                       {"TargetDeviceName.1", "d"}});
  }
  Result Query() { return Call("QueryOTAFirmware", {{"FirmwareId", "fw-1"}}); }
  Result List() {
    return Call("ListOTAJobByFirmware",
                {{"FirmwareId", "fw-1"}, {"CurrentPage", "1"}, {"PageSize", "10"}});
  }

  // How many of `n` calls of `call` were admitted (the rest must have been throttled).
  template <typename F>
  int Admitted(int n, F call) {
    int admitted = 0;
    for (int i = 0; i < n; ++i) {
      const Result r = call();
      if (r.Throttled()) continue;
      EXPECT_EQ(r.status, 200) << r.Str("Code");
      ++admitted;
    }
    return admitted;
  }

  TestReply Hook(const std::string& method, const std::string& path, const std::string& body = "") {
    HttpRequest request;
    request.method = method;
    request.url = path;
    request.body = body;
    absl::StatusOr<TestReply> reply = TestClient(server_->port()).Send(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : TestReply{};
  }

  StatsSnapshot Stats() { return server_->stats().Snapshot(); }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
  std::unique_ptr<TestClient> client_;
  int nonce_counter_ = 0;
  int firmware_counter_ = 0;
};

TEST_F(EmulatorQuota, OffByDefaultNothingIsThrottledAndTheStatsBodyIsUnchanged) {
  EXPECT_FALSE(server_->quota().enabled());
  EXPECT_EQ(Admitted(30, [&] { return Create(); }), 30);
  EXPECT_EQ(server_->state().JobCount(), 30u);
  const std::string body = Hook("GET", "/_emulator/stats").body;
  EXPECT_THAT(body, Not(HasSubstr("accepted_per_second")));
  EXPECT_THAT(body, Not(HasSubstr("throttled")));
  // Still counted, for a test that enables quotas later or reads the snapshot.
  EXPECT_EQ(Stats().accepted_per_second.at("CreateOTAVerifyJob").at(kNowSecond), 30);
}

TEST_F(EmulatorQuota, TenCreatesInASecondSucceedAndTheEleventhIsThrottledUnprocessed) {
  StartServer(On());
  for (int i = 1; i <= 10; ++i) ASSERT_EQ(Create().status, 200) << i;
  const Result r = Create();  // fw-11
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Str("Code"), "Throttling.User");
  EXPECT_EQ(r.Str("Message"), "Request was denied due to user flow control.");
  EXPECT_NE(r.Str("RequestId"), "<absent>");
  EXPECT_NE(r.Str("HostId"), "<absent>");
  EXPECT_EQ(r.Str("Recommend"), "https://api.aliyun.com/troubleshoot?q=Throttling.User");
  EXPECT_EQ(server_->state().JobCount(), 10u);
  EXPECT_EQ(server_->state().FirmwareStatus("p", "fw-11"), kFirmwareNotVerified);

  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.requests_by_outcome.at("Throttling.User"), 1);
  EXPECT_EQ(stats.requests_by_outcome.at("success"), 10);
  EXPECT_EQ(stats.requests_by_action.at("CreateOTAVerifyJob"), 11);
  EXPECT_EQ(stats.throttled.at("CreateOTAVerifyJob"), 1);
  EXPECT_EQ(stats.accepted_per_second.at("CreateOTAVerifyJob").at(kNowSecond), 10);
}

TEST_F(EmulatorQuota, ABusinessErrorStillUsesQuota) {
  StartServer(On());
  // The same package ten times: one job, nine VerifyJobIsProcessing, all admitted.
  for (int i = 0; i < 10; ++i) {
    const Result r =
        Call("CreateOTAVerifyJob",
             {{"FirmwareId", "fw-1"}, {"ProductKey", "p"}, {"TargetDeviceName.1", "d"}});
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_TRUE(Create().Throttled());
}

TEST_F(EmulatorQuota, TheBucketRefillsAtTheRateAndHoldsAtMostOneSecondsWorth) {
  StartServer(On());
  EXPECT_EQ(Admitted(11, [&] { return Create(); }), 10);
  clock_.Advance(absl::Milliseconds(99));
  EXPECT_TRUE(Create().Throttled());
  clock_.Advance(absl::Milliseconds(1));  // 100 ms at 10/s: one token
  EXPECT_EQ(Create().status, 200);
  EXPECT_TRUE(Create().Throttled());
  clock_.Advance(absl::Seconds(5));  // long idle: the bucket is full, not fuller
  EXPECT_EQ(Admitted(15, [&] { return Create(); }), 10);
  EXPECT_EQ(server_->state().JobCount(), 21u);
}

TEST_F(EmulatorQuota, ActionsHaveIndependentBucketsAtTheirDefaultRates) {
  StartServer(On());
  EXPECT_EQ(Admitted(12, [&] { return Create(); }), 10);
  EXPECT_EQ(Admitted(25, [&] { return Query(); }), 20);
  EXPECT_EQ(Admitted(12, [&] { return List(); }), 10);
  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.throttled.at("CreateOTAVerifyJob"), 2);
  EXPECT_EQ(stats.throttled.at("QueryOTAFirmware"), 5);
  EXPECT_EQ(stats.throttled.at("ListOTAJobByFirmware"), 2);
}

TEST_F(EmulatorQuota, UnauthenticatedAndUnknownActionRequestsAreNotCounted) {
  StartServer(On());
  Credentials wrong = TestClient::DefaultCredentials();
  wrong.access_key_secret = "not-the-secret";
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(Call("CreateOTAVerifyJob", {{"FirmwareId", "fw-1"}}, wrong).Str("Code"),
              "SignatureDoesNotMatch");
  }
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(Call("DeleteOTAFirmware", {{"FirmwareId", "fw-1"}}).Str("Code"),
              "InvalidAction.NotFound");
  }
  EXPECT_EQ(Admitted(11, [&] { return Create(); }), 10);
  EXPECT_EQ(Stats().throttled.count("DeleteOTAFirmware"), 0u);
}

TEST_F(EmulatorQuota, ARateOfZeroThrottlesEveryRequest) {
  QuotaSettings quota = On();
  quota.rates["QueryOTAFirmware"] = 0;
  StartServer(quota);
  EXPECT_EQ(Admitted(3, [&] { return Query(); }), 0);
  clock_.Advance(absl::Seconds(10));
  EXPECT_TRUE(Query().Throttled());
  EXPECT_EQ(Create().status, 200);
}

TEST_F(EmulatorQuota, ControlEndpointShowsAndChangesTheSettings) {
  EXPECT_EQ(Hook("GET", "/_emulator/quota").body,
            R"({"enabled":false,"rates":{"CancelOTATaskByJob":5,"CreateOTAVerifyJob":10,)"
            R"("ListOTAJobByFirmware":10,"ListOTATaskByJob":10,"QueryOTAFirmware":20,)"
            R"("QueryOTAJob":10}})");
  const TestReply set =
      Hook("POST", "/_emulator/quota", R"({"enabled":true,"rates":{"CreateOTAVerifyJob":2}})");
  EXPECT_EQ(set.status, 200);
  EXPECT_THAT(set.body, HasSubstr(R"({"enabled":true,"rates":{"CancelOTATaskByJob":5,)"
                                  R"("CreateOTAVerifyJob":2,)"));
  EXPECT_EQ(Admitted(3, [&] { return Create(); }), 2);
  // Only what is sent changes; a new rate starts with a full bucket.
  EXPECT_EQ(Hook("POST", "/_emulator/quota", R"({"rates":{"CreateOTAVerifyJob":4}})").status, 200);
  EXPECT_TRUE(server_->quota().enabled());
  EXPECT_EQ(Admitted(5, [&] { return Create(); }), 4);
  EXPECT_EQ(Hook("POST", "/_emulator/quota", R"({"enabled":false})").status, 200);
  EXPECT_EQ(Admitted(5, [&] { return Create(); }), 5);
}

TEST_F(EmulatorQuota, MalformedControlRequestsChangeNothing) {
  const std::string before = Hook("GET", "/_emulator/quota").body;
  for (const char* body : {R"({"enabled":true,"rates":{"DescribeEverything":1}})",
                           R"({"enabled":true,"rates":{"CreateOTAVerifyJob":-1}})",
                           R"({"enabled":true,"rates":{"CreateOTAVerifyJob":1000001}})",
                           R"({"enabled":true,"rate":{}})", R"({"enabled":"maybe"})", "{"}) {
    const TestReply reply = Hook("POST", "/_emulator/quota", body);
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_THAT(reply.body, HasSubstr("\"error\"")) << body;
  }
  EXPECT_EQ(Hook("GET", "/_emulator/quota").body, before);
}

TEST_F(EmulatorQuota, ResetRestoresTheStartUpSettingsWithFullBuckets) {
  QuotaSettings quota = On();
  quota.rates["CreateOTAVerifyJob"] = 3;
  StartServer(quota);
  EXPECT_EQ(Admitted(4, [&] { return Create(); }), 3);
  ASSERT_EQ(Hook("POST", "/_emulator/quota", R"({"enabled":false})").status, 200);
  ASSERT_EQ(Hook("POST", "/_emulator/reset").status, 200);
  EXPECT_TRUE(server_->quota().enabled());
  EXPECT_EQ(server_->quota().Get().rates.at("CreateOTAVerifyJob"), 3);
  firmware_counter_ = 0;  // the seed is back too
  EXPECT_EQ(Admitted(4, [&] { return Create(); }), 3);
}

TEST_F(EmulatorQuota, StatsBodyCountsAcceptedPerSecondAndThrottledWhileQuotasAreOn) {
  StartServer(On());
  EXPECT_EQ(Admitted(12, [&] { return Create(); }), 10);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Admitted(3, [&] { return Create(); }), 3);
  EXPECT_EQ(Admitted(1, [&] { return Query(); }), 1);
  EXPECT_THAT(Hook("GET", "/_emulator/stats").body,
              HasSubstr(absl::StrCat(
                  R"("faults_injected":{},"accepted_per_second":{)", R"("CreateOTAVerifyJob":{")",
                  kNowSecond, R"(":10,")", kNowSecond + 1, R"(":3},"QueryOTAFirmware":{")",
                  kNowSecond + 1, R"(":1}},)", R"("throttled":{"CreateOTAVerifyJob":2}})")));
  // Throttled counts keep the section visible after quotas are turned off; reset clears it.
  ASSERT_EQ(Hook("POST", "/_emulator/quota", R"({"enabled":false})").status, 200);
  EXPECT_THAT(Hook("GET", "/_emulator/stats").body, HasSubstr(R"("throttled":{)"));
  ASSERT_EQ(Hook("POST", "/_emulator/reset").status, 200);
  ASSERT_EQ(Hook("POST", "/_emulator/quota", R"({"enabled":false})").status, 200);
  EXPECT_THAT(Hook("GET", "/_emulator/stats").body, Not(HasSubstr("accepted_per_second")));
}

TEST_F(EmulatorQuota, AcceptedPerSecondKeepsTheLast120Seconds) {
  StartServer(On());
  ASSERT_EQ(Create().status, 200);  // kNowSecond
  clock_.Advance(absl::Seconds(119));
  ASSERT_EQ(Create().status, 200);
  EXPECT_EQ(Stats().accepted_per_second.at("CreateOTAVerifyJob").size(), 2u);
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(Query().status, 200);  // a newer second of any action ages every action's window
  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.accepted_per_second.at("CreateOTAVerifyJob").count(kNowSecond), 0u);
  EXPECT_EQ(stats.accepted_per_second.at("CreateOTAVerifyJob").at(kNowSecond + 119), 1);
}

TEST_F(EmulatorQuota, AV1CallerIsThrottledToo) {
  QuotaSettings quota = On();
  quota.rates["QueryOTAFirmware"] = 0;
  StartServer(quota);
  RpcCall call;
  call.action = "QueryOTAFirmware";
  call.params = {{"FirmwareId", "fw-1"}};
  const absl::StatusOr<TestReply> reply = client_->Call(call, SignatureVersion::kV1, kNow, "x1");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 400);
  EXPECT_THAT(reply->body, HasSubstr(R"("Code":"Throttling.User")"));
}

// --- The pieces alone ------------------------------------------------------------------------

TEST(EmulatorQuotaLimiter, AdmitsBurstThenRefillsContinuouslyAndIgnoresAClockGoingBack) {
  QuotaSettings settings;
  settings.enabled = true;
  settings.rates["CancelOTATaskByJob"] = 5;
  QuotaLimiter limiter(settings);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(limiter.Admit("CancelOTATaskByJob", kNow), QuotaDecision::kAdmitted);
  }
  EXPECT_EQ(limiter.Admit("CancelOTATaskByJob", kNow), QuotaDecision::kThrottled);
  EXPECT_EQ(limiter.Admit("CancelOTATaskByJob", kNow - absl::Seconds(5)),
            QuotaDecision::kThrottled);
  EXPECT_EQ(limiter.Admit("CancelOTATaskByJob", kNow + absl::Milliseconds(199)),
            QuotaDecision::kThrottled);
  EXPECT_EQ(limiter.Admit("CancelOTATaskByJob", kNow + absl::Milliseconds(200)),
            QuotaDecision::kAdmitted);
  EXPECT_EQ(limiter.Admit("AssumeRole", kNow), QuotaDecision::kNotLimited);
}

TEST(EmulatorQuotaLimiter, DisabledLimitsNothing) {
  QuotaLimiter limiter{QuotaSettings()};
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(limiter.Admit("CreateOTAVerifyJob", kNow), QuotaDecision::kNotLimited);
  }
}

TEST(EmulatorQuotaSettings, RatesFlagOverridesOnlyTheNamedActions) {
  QuotaSettings settings;
  ASSERT_TRUE(ApplyQuotaRatesFlag("CreateOTAVerifyJob:3, QueryOTAFirmware:0", &settings).ok());
  EXPECT_EQ(settings.rates.at("CreateOTAVerifyJob"), 3);
  EXPECT_EQ(settings.rates.at("QueryOTAFirmware"), 0);
  EXPECT_EQ(settings.rates.at("CancelOTATaskByJob"), 5);
  EXPECT_TRUE(ApplyQuotaRatesFlag("", &settings).ok());
  for (const char* bad : {"CreateOTAVerifyJob", "CreateOTAVerifyJob:x", "Nope:1",
                          "CreateOTAVerifyJob:-2", "CreateOTAVerifyJob:1,CreateOTAVerifyJob:2"}) {
    QuotaSettings unchanged;
    EXPECT_EQ(ApplyQuotaRatesFlag(bad, &unchanged).code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_EQ(unchanged.rates, DefaultQuotaRates()) << bad;
  }
}

TEST(EmulatorQuotaSettings, StartRejectsInvalidSettings) {
  ManualClock clock(kNow);
  EmulatorOptions options;
  options.seed = DemoSeed();
  options.quota.rates["NotAnAction"] = 1;
  EmulatorServer server(options, &clock);
  EXPECT_EQ(server.Start().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify

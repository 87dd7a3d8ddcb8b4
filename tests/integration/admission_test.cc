// Quota-aware admission, safe retries and create reconciliation, end to end: the real gateway,
// the emulator enforcing the account's quota and injecting faults, and the load generator.
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/harness.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::CallResult;
using ::otaverify::testing::ErrorReason;
using ::otaverify::testing::Harness;
using ::otaverify::testing::RunCommand;
using ::otaverify::testing::StatusIs;
using google::protobuf::Struct;

// A sub-object of a Struct by path; empty when absent.
Struct Sub(const Struct& root, const std::vector<std::string>& path) {
  Struct node = root;
  for (const std::string& key : path) {
    auto it = node.fields().find(key);
    if (it == node.fields().end() || !it->second.has_struct_value()) return Struct();
    Struct child = it->second.struct_value();
    node = std::move(child);
  }
  return node;
}

double Number(const Struct& node, const std::string& key) {
  auto it = node.fields().find(key);
  return it == node.fields().end() ? 0 : it->second.number_value();
}

// Runs the load generator against `target`; its JSON summary.
Struct Load(const std::string& target, std::vector<std::string> flags) {
  std::vector<std::string> argv = {OTAVERIFY_LOAD_BIN, "--target=" + target};
  for (auto& f : flags) argv.push_back(std::move(f));
  auto result = RunCommand(argv, {}, absl::Minutes(2));
  EXPECT_TRUE(result.ok());
  Struct summary;
  if (result.ok()) {
    EXPECT_EQ(result->exit_status, 0) << result->output;
    const std::string line = result->output.substr(result->output.find('{'));
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &summary).ok()) << line;
  }
  return summary;
}

Client ClientOf(const Harness& harness) {
  return Client::Connect(harness.gateway_address());
}

TEST(Admission, AccountQuotaIsNeverExceededAndCallersGetOkOrResourceExhausted) {
  Harness harness;
  ASSERT_TRUE(
      harness.StartEmulator({"--quota=on", "--seed=" + Harness::WriteLoadSeed(3000)}).ok());
  ASSERT_TRUE(harness.StartGateway({"--upstream_quotas=CreateOTAVerifyJob=10"}).ok());
  const Struct summary =
      Load(harness.gateway_address(), {"--rate=200", "--duration=10s", "--deadline=1s"});
  std::cout << "200 calls/s offered for 10 s: " << summary.ShortDebugString() << std::endl;

  // Callers get OK or RESOURCE_EXHAUSTED (with RetryInfo, checked below), nothing else.
  const Struct outcomes = Sub(summary, {"outcomes"});
  for (const auto& [outcome, count] : outcomes.fields()) {
    EXPECT_THAT(outcome, ::testing::AnyOf("OK", "RESOURCE_EXHAUSTED GATEWAY_RATE_LIMITED"));
  }
  EXPECT_GT(Number(outcomes, "OK"), 50);

  // The upstream saw at most its quota in every second, and never had to throttle.
  const Struct stats = harness.EmulatorStats();
  ASSERT_TRUE(stats.fields().contains("accepted_per_second"));
  ASSERT_TRUE(stats.fields().contains("throttled"));
  const Struct per_second = Sub(stats, {"accepted_per_second", "CreateOTAVerifyJob"});
  double max_per_second = 0;
  double accepted = 0;
  for (const auto& [second, count] : per_second.fields()) {
    max_per_second = std::max(max_per_second, count.number_value());
    accepted += count.number_value();
  }
  std::cout << "busiest second at the upstream: " << max_per_second << " creates" << std::endl;
  EXPECT_EQ(accepted, Number(outcomes, "OK"));  // every OK is one accepted create, no more
  EXPECT_LE(max_per_second, 10);
  EXPECT_EQ(Number(Sub(stats, {"throttled"}), "CreateOTAVerifyJob"), 0);

  // A caller turned away is told when to come back and which quota it ran into.
  CallOptions short_deadline;
  short_deadline.deadline = absl::Milliseconds(100);
  absl::Status limited;
  for (int i = 0; i < 20 && limited.code() != absl::StatusCode::kResourceExhausted; ++i) {
    limited = ClientOf(harness)
                  .CreateVerifyJob(Harness::LoadRequest(2500 + i), short_deadline)
                  .status();
  }
  EXPECT_THAT(limited, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(GetDetail<google::rpc::RetryInfo>(limited).has_value());
  EXPECT_TRUE(GetDetail<google::rpc::QuotaFailure>(limited).has_value());
}

TEST(Admission, ReplicasSharingAnAccountConvergeBelowItsQuota) {
  Harness harness;
  ASSERT_TRUE(
      harness.StartEmulator({"--quota=on", "--seed=" + Harness::WriteLoadSeed(5000)}).ok());
  // Each replica believes it has the whole quota: only the upstream's throttling tells them.
  const std::vector<std::string> flags = {"--upstream_quotas=CreateOTAVerifyJob=10"};
  ASSERT_TRUE(harness.StartGateway(flags).ok());
  absl::StatusOr<std::string> second = harness.StartAnotherGateway(flags);
  ASSERT_TRUE(second.ok()) << second.status();

  auto throttled_and_accepted = [&harness](absl::Time since) {
    const Struct stats = harness.EmulatorStats();
    double accepted = 0;
    const Struct per_second = Sub(stats, {"accepted_per_second", "CreateOTAVerifyJob"});
    for (const auto& [second, count] : per_second.fields()) {
      int64_t unix_second = 0;
      if (absl::SimpleAtoi(second, &unix_second) && unix_second >= absl::ToUnixSeconds(since)) {
        accepted += count.number_value();
      }
    }
    return std::make_pair(Number(Sub(stats, {"throttled"}), "CreateOTAVerifyJob"), accepted);
  };
  std::thread other([&] {
    Load(*second, {"--rate=50", "--duration=30s", "--deadline=1s", "--firmware_offset=2500"});
  });
  absl::Time settled;
  double throttled_at_settle = 0;
  std::thread sampler([&] {
    absl::SleepFor(absl::Seconds(5));
    settled = absl::Now();
    throttled_at_settle = throttled_and_accepted(settled).first;
  });
  Load(harness.gateway_address(), {"--rate=50", "--duration=30s", "--deadline=1s"});
  other.join();
  sampler.join();
  const auto [throttled_total, accepted_after] = throttled_and_accepted(settled + absl::Seconds(1));
  const double throttled_after = throttled_total - throttled_at_settle;
  const double fraction = throttled_after / std::max(1.0, throttled_after + accepted_after);
  std::cout << "two replicas, 30 s: " << throttled_total << " throttled in all, "
            << throttled_after << " after the first 5 s against " << accepted_after
            << " accepted (" << 100 * fraction << " %)" << std::endl;
  EXPECT_LT(fraction, 0.02);
  EXPECT_GT(accepted_after, 100);
}

TEST(Reconciliation, CreateProcessedButResetReturnsTheJobItCreated) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  ASSERT_TRUE(harness.ArmFault("process_then_reset", 1, 0, "CreateOTAVerifyJob").ok());
  const Client client = ClientOf(harness);
  CallMetadata metadata;
  auto created = client.CreateVerifyJob(Harness::DemoRequest("demo-firmware-1"), {}, &metadata);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->job_id().empty());
  EXPECT_EQ(metadata.attempts, 2);  // the create, then ListOTAJobByFirmware

  const Struct by_action = Sub(harness.EmulatorStats(), {"requests_by_action"});
  EXPECT_EQ(Number(by_action, "CreateOTAVerifyJob"), 1);  // never sent twice
  EXPECT_EQ(Number(by_action, "ListOTAJobByFirmware"), 1);
  // Exactly one job exists: another create is refused.
  EXPECT_THAT(harness.Create(Harness::DemoRequest("demo-firmware-1")).status,
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(Reconciliation, CreateResetBeforeProcessingIsSentAgainOnce) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  ASSERT_TRUE(harness.ArmFault("reset_before_response", 1, 0, "CreateOTAVerifyJob").ok());
  const Client client = ClientOf(harness);
  CallMetadata metadata;
  auto created = client.CreateVerifyJob(Harness::DemoRequest("demo-firmware-1"), {}, &metadata);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(metadata.attempts, 4);  // create, list (none), query (unverified), create
  EXPECT_EQ(std::count(metadata.upstream_request_id.begin(),
                       metadata.upstream_request_id.end(), ','),
            2);  // three answers: the reset one had none
  const Struct by_action = Sub(harness.EmulatorStats(), {"requests_by_action"});
  EXPECT_EQ(Number(by_action, "CreateOTAVerifyJob"), 2);
  EXPECT_EQ(Number(by_action, "QueryOTAFirmware"), 1);
}

TEST(Retries, RetryBudgetStopsARetryStorm) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--seed=" + Harness::WriteLoadSeed(5000)}).ok());
  ASSERT_TRUE(harness.StartGateway({"--max_attempts=4"}).ok());
  // Throttling: retryable even for a create (nothing was processed), and not something the
  // breaker counts, so only the budget stands between the callers and a storm.
  ASSERT_TRUE(harness.ArmFault("throttling", -1).ok());
  const Struct summary = Load(harness.gateway_address(),
                              {"--concurrency=32", "--duration=4s", "--deadline=10s"});
  const double calls = Number(summary, "calls");
  const double attempts = harness.Stat("requests_total");
  std::cout << calls << " calls against an upstream throttling everything: " << attempts
            << " upstream attempts (without a budget up to " << 4 * calls << ")" << std::endl;
  // 500 tokens at 5 a retry: at most 100 retries in all, whatever the number of calls.
  EXPECT_LE(attempts, calls + 100);
  EXPECT_GE(attempts, calls + 90);
  EXPECT_GT(calls, 200);
}

TEST(Retries, CircuitBreakerOpensAndRecovers) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway({"--breaker_failures=5", "--breaker_open=1s"}).ok());
  ASSERT_TRUE(harness.ArmFault("http_503", -1).ok());
  CallResult open;
  for (int i = 0; i < 10 && ErrorReason(open.status) != "UPSTREAM_CIRCUIT_OPEN"; ++i) {
    open = harness.Create(Harness::DemoRequest("demo-firmware-1"), absl::Seconds(3));
  }
  ASSERT_EQ(ErrorReason(open.status), "UPSTREAM_CIRCUIT_OPEN");
  EXPECT_THAT(open.status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(GetDetail<google::rpc::RetryInfo>(open.status).has_value());
  // While open, calls do not reach the upstream.
  const double attempts = harness.Stat("requests_total");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ErrorReason(harness.Create(Harness::DemoRequest("demo-firmware-1")).status),
              "UPSTREAM_CIRCUIT_OPEN");
  }
  EXPECT_EQ(harness.Stat("requests_total"), attempts);
  // The upstream recovers; after the open period a probe goes through and closes the breaker.
  ASSERT_TRUE(harness.EmulatorControl("DELETE", "/_emulator/faults").ok());
  absl::SleepFor(absl::Milliseconds(1200));
  EXPECT_TRUE(harness.Create(Harness::DemoRequest("demo-firmware-1")).status.ok());
  EXPECT_TRUE(harness.Create(Harness::DemoRequest("demo-firmware-2")).status.ok());
}

TEST(Coalescing, ConcurrentCreatesOfOneFirmwareShareOneUpstreamCall) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  ASSERT_TRUE(harness.ArmFault("delay", 1, 500).ok());
  const Client client = ClientOf(harness);
  absl::Mutex mu;
  std::vector<std::string> job_ids;
  absl::BlockingCounter done(5);
  for (int i = 0; i < 5; ++i) {
    client.CreateVerifyJobAsync(
        Harness::DemoRequest("demo-firmware-1"), {},
        [&](absl::StatusOr<v1::CreateVerifyJobResponse> result, CallMetadata) {
          absl::MutexLock lock(&mu);
          job_ids.push_back(result.ok() ? result->job_id() : result.status().ToString());
          done.DecrementCount();
        });
  }
  done.Wait();
  ASSERT_EQ(job_ids.size(), 5u);
  for (const std::string& id : job_ids) EXPECT_EQ(id, job_ids[0]);
  EXPECT_EQ(Number(Sub(harness.EmulatorStats(), {"requests_by_action"}), "CreateOTAVerifyJob"),
            1);
}

// Every google.rpc detail type the gateway sends, as the C++ client library decodes it.
TEST(ErrorDetails, EachDetailTypeReachesTheClient) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway({"--upstream_quotas=CreateOTAVerifyJob=0.2"}).ok());
  const Client client = ClientOf(harness);

  v1::CreateVerifyJobRequest invalid = Harness::DemoRequest();
  invalid.clear_firmware_id();
  const absl::Status bad_request = client.CreateVerifyJob(invalid).status();
  EXPECT_THAT(bad_request, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(GetDetail<google::rpc::BadRequest>(bad_request).has_value());
  EXPECT_TRUE(GetDetail<google::rpc::ErrorInfo>(bad_request).has_value());

  v1::CreateVerifyJobRequest unknown_product = Harness::DemoRequest();
  unknown_product.set_product_key("a1NoSuchProd");
  const absl::Status not_found = client.CreateVerifyJob(unknown_product).status();
  auto resource = GetDetail<google::rpc::ResourceInfo>(not_found);
  ASSERT_TRUE(resource.has_value()) << not_found;
  EXPECT_EQ(resource->resource_name(), "a1NoSuchProd");

  // The next token comes 5 s later (0.2/s, paced at 90 %): a 1 s deadline cannot wait for it.
  CallOptions short_deadline;
  short_deadline.deadline = absl::Seconds(1);
  const absl::Status limited =
      client.CreateVerifyJob(Harness::DemoRequest("demo-firmware-verified"), short_deadline)
          .status();
  EXPECT_THAT(limited, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(GetDetail<google::rpc::RetryInfo>(limited).has_value());
  EXPECT_TRUE(GetDetail<google::rpc::QuotaFailure>(limited).has_value());

  absl::SleepFor(absl::Seconds(6));
  const absl::Status precondition =
      client.CreateVerifyJob(Harness::DemoRequest("demo-firmware-verified")).status();
  EXPECT_THAT(precondition, StatusIs(absl::StatusCode::kFailedPrecondition));
  auto failure = GetDetail<google::rpc::PreconditionFailure>(precondition);
  ASSERT_TRUE(failure.has_value()) << precondition;
  EXPECT_EQ(failure->violations(0).subject(), "firmware:demo-firmware-verified");
}

}  // namespace
}  // namespace otaverify

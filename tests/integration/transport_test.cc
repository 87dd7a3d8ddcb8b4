// The gateway's upstream transport end to end: TLS with a test CA, connection and handshake
// bounds under load, deadlines, cancellation, back-pressure and every injected fault.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/status/rich_status.h"
#include "tests/testing/harness.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::CallResult;
using ::otaverify::testing::ErrorReason;
using ::otaverify::testing::Harness;
using ::otaverify::testing::MakeTestCa;
using ::otaverify::testing::StatusIs;
using ::otaverify::testing::TestCa;
using ::testing::HasSubstr;
using absl::StatusCode;

const TestCa& Ca() {
  static const TestCa* ca = [] {
    auto made = MakeTestCa(::testing::TempDir() + "/otaverify-test-ca");
    EXPECT_TRUE(made.ok()) << made.status();
    return new TestCa(made.ok() ? *made : TestCa{});
  }();
  return *ca;
}

// Outcome counts of many concurrent calls, by gRPC code name and ErrorInfo reason.
struct LoadResult {
  std::map<std::string, int> by_outcome;
  std::map<std::string, absl::Duration> slowest;  // by outcome
  absl::Duration elapsed;

  int Count(const std::string& outcome) const {
    auto it = by_outcome.find(outcome);
    return it == by_outcome.end() ? 0 : it->second;
  }
};

// Runs `total` creates with at most `concurrency` outstanding, through the callback stub.
LoadResult RunLoad(Harness& harness, int total, int concurrency,
                   const std::function<v1::CreateVerifyJobRequest(int)>& request_for,
                   absl::Duration deadline = absl::Seconds(30)) {
  struct Call {
    grpc::ClientContext context;
    v1::CreateVerifyJobRequest request;
    v1::CreateVerifyJobResponse response;
  };
  absl::Mutex mu;
  LoadResult result;
  std::atomic<int> next{0};
  absl::BlockingCounter finished(total);
  std::function<void()> start_one = [&] {
    const int i = next.fetch_add(1);
    if (i >= total) return;
    auto* call = new Call;
    call->request = request_for(i);
    const absl::Time sent = absl::Now();
    call->context.set_deadline(absl::ToChronoTime(sent + deadline));
    harness.stub().async()->CreateVerifyJob(
        &call->context, &call->request, &call->response, [&, call, sent](grpc::Status status) {
          const absl::Status s = FromGrpcStatus(status);
          const std::string outcome =
              absl::StrCat(StatusCodeName(s.code()), s.ok() ? "" : " " + ErrorReason(s));
          {
            absl::MutexLock lock(&mu);
            ++result.by_outcome[outcome];
            absl::Duration& slowest = result.slowest[outcome];
            slowest = std::max(slowest, absl::Now() - sent);
          }
          delete call;
          start_one();
          finished.DecrementCount();
        });
  };
  const absl::Time start = absl::Now();
  for (int i = 0; i < concurrency; ++i) start_one();
  finished.Wait();
  result.elapsed = absl::Now() - start;
  return result;
}

TEST(TransportTls, TenThousandCallsAt64ConcurrencyStayWithinConnectionAndHandshakeBounds) {
  constexpr int kCalls = 10000;
  constexpr int kMaxConnections = 8;
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--seed=" + Harness::WriteLoadSeed(kCalls)}, &Ca()).ok());
  ASSERT_TRUE(harness.StartGateway({absl::StrCat("--upstream_max_connections=", kMaxConnections),
                                    "--max_in_flight=1024"})
                  .ok());
  const LoadResult load = RunLoad(harness, kCalls, 64, Harness::LoadRequest);
  EXPECT_EQ(load.Count("OK"), kCalls) << ::testing::PrintToString(load.by_outcome);

  // The stats request below is one more TLS connection with one more full handshake.
  const google::protobuf::Struct stats = harness.EmulatorStats();
  const double connections = stats.fields().at("connections_accepted").number_value() - 1;
  const double full_handshakes = stats.fields().at("tls_handshakes_full").number_value() - 1;
  std::cout << kCalls << " calls at concurrency 64 over TLS in " << load.elapsed << " ("
            << kCalls / absl::ToDoubleSeconds(load.elapsed) << " calls/s): " << connections
            << " upstream connections, " << full_handshakes << " full TLS handshakes, "
            << stats.fields().at("tls_handshakes_resumed").number_value()
            << " resumed; gateway peak RSS "
            << ::otaverify::testing::PeakRssKib(harness.gateway().pid()) << " KiB" << std::endl;
  EXPECT_EQ(stats.fields().at("requests_total").number_value(), kCalls);
  EXPECT_LE(connections, kMaxConnections);
  EXPECT_LE(full_handshakes, kMaxConnections);
}

TEST(TransportTls, UntrustedCaIsUnavailableNamingTls) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({}, &Ca()).ok());
  ASSERT_TRUE(harness.StartGateway({"--ca_file=" + Ca().other_ca()}).ok());
  const CallResult call = harness.Create(Harness::DemoRequest());
  EXPECT_THAT(call.status, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(ErrorReason(call.status), "UPSTREAM_UNREACHABLE");
  EXPECT_THAT(std::string(call.status.message()), HasSubstr("TLS"));
  EXPECT_EQ(harness.Stat("requests_total"), 0);
}

TEST(TransportTls, HostNameNotInTheCertificateIsUnavailable) {
  // The certificate names 127.0.0.1 and localhost; 127.0.0.2 is loopback too, but not named.
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({}, &Ca(), "127.0.0.2:0").ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  const CallResult call = harness.Create(Harness::DemoRequest());
  EXPECT_THAT(call.status, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(std::string(call.status.message()), HasSubstr("TLS"));
}

struct FaultRow {
  const char* fault;
  int delay_ms;
  // What the caller sees when the gateway may not retry (--max_attempts=1): the mapping.
  StatusCode want;
  const char* reason;  // "" for OK
};

// What each injected fault must look like to the caller (README "Upstream faults"). A create
// whose outcome is unknown is reconciled whatever the retry setting: the job it created is
// found, or, the firmware still unverified, it is sent again.
constexpr FaultRow kFaultTable[] = {
    {"delay", 100, StatusCode::kOk, ""},
    // A server-side failure may follow a create that was carried out: reconciled, never
    // re-sent blindly (here the job was not created, so it is sent again).
    {"http_500", 0, StatusCode::kOk, ""},
    {"http_502", 0, StatusCode::kOk, ""},
    {"http_503", 0, StatusCode::kOk, ""},
    {"throttling", 0, StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED"},
    {"reset_before_response", 0, StatusCode::kOk, ""},  // reconciled: sent again
    {"process_then_reset", 0, StatusCode::kOk, ""},     // reconciled: job found
    {"truncated_body", 0, StatusCode::kOk, ""},         // reconciled: job found
    {"non_json_body", 0, StatusCode::kOk, ""},          // reconciled: sent again
    {"xml_error_body", 0, StatusCode::kResourceExhausted, "UPSTREAM_THROTTLED"},
    {"slow_drip_body", 300, StatusCode::kOk, ""},
    {"close_after_response", 0, StatusCode::kOk, ""},
};

void RunFaultTable(bool retries) {
  for (const FaultRow& row : kFaultTable) {
    SCOPED_TRACE(absl::StrCat(row.fault, retries ? " with retries" : " without retries"));
    // A fresh pair per fault: the faulted call is the first on a new connection.
    Harness harness;
    ASSERT_TRUE(harness.StartEmulator().ok());
    ASSERT_TRUE(harness.StartGateway({retries ? "--max_attempts=4" : "--max_attempts=1"}).ok());
    ASSERT_TRUE(harness.ArmFault(row.fault, 1, row.delay_ms, "CreateOTAVerifyJob").ok());
    const CallResult faulted = harness.Create(Harness::DemoRequest("demo-firmware-1"));
    if (retries) {  // one-shot faults: a retry or the reconciliation always succeeds
      EXPECT_TRUE(faulted.status.ok()) << faulted.status;
    } else {
      EXPECT_THAT(faulted.status, StatusIs(row.want));
      EXPECT_EQ(ErrorReason(faulted.status), row.reason);
    }
    // The gateway keeps serving: the next call (on a reused or a new connection) succeeds.
    const CallResult next = harness.Create(Harness::DemoRequest("demo-firmware-3"));
    EXPECT_TRUE(next.status.ok()) << next.status;
    // Never a duplicate: whatever happened, the firmware has at most one verify job.
    EXPECT_THAT(harness.Create(Harness::DemoRequest("demo-firmware-1")).status,
                StatusIs(faulted.status.ok() ? StatusCode::kFailedPrecondition
                                             : StatusCode::kOk));
  }
}

TEST(TransportFaults, EveryFaultMapsToItsDocumentedStatusAndServingContinues) {
  RunFaultTable(/*retries=*/false);
}

TEST(TransportFaults, RetriesAndReconciliationTurnEveryOneShotFaultIntoSuccess) {
  RunFaultTable(/*retries=*/true);
}

TEST(TransportFaults, StaleKeepAliveRaceIsNeverSeenByCallers) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--seed=" + Harness::WriteLoadSeed(200)}).ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  // Every response closes its connection right after it is sent.
  ASSERT_TRUE(harness.ArmFault("close_after_response", -1).ok());
  for (int i = 0; i < 200; ++i) {
    const CallResult call = harness.Create(Harness::LoadRequest(i));
    ASSERT_TRUE(call.status.ok()) << i << ": " << call.status;
  }
  EXPECT_GE(harness.Stat("connections_accepted"), 200);
}

TEST(TransportDeadlines, ShortDeadlineAgainstSlowUpstreamAbortsTheTransfer) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  ASSERT_TRUE(harness.Create(Harness::DemoRequest("demo-firmware-1")).status.ok());
  const double connections_before = harness.Stat("connections_accepted");  // +1: the stats call

  // Every answer takes 2 s, the reconciliation's too: the call cannot learn what happened.
  ASSERT_TRUE(harness.ArmFault("delay", -1, 2000).ok());
  const absl::Time start = absl::Now();
  const CallResult call =
      harness.Create(Harness::DemoRequest("demo-firmware-2"), absl::Milliseconds(200));
  const absl::Duration took = absl::Now() - start;
  EXPECT_THAT(call.status, StatusIs(StatusCode::kDeadlineExceeded));
  std::cout << "200 ms deadline against a 2 s upstream delay answered in " << took << std::endl;

  // Both aborted transfers (the create and the reconciliation's list) dropped their
  // connections. Had they run on, they would have finished within the 2 s and gone back to
  // the pool for the next call to reuse.
  ASSERT_TRUE(harness.EmulatorControl("DELETE", "/_emulator/faults").ok());
  absl::SleepFor(absl::Milliseconds(2200));
  ASSERT_TRUE(harness.Create(Harness::DemoRequest("demo-firmware-3")).status.ok());
  // New connections: the fault request, the list, the DELETE, the next create, this stats call.
  EXPECT_EQ(harness.Stat("connections_accepted"), connections_before + 5);
}

TEST(TransportCancellation, CallerCancellingAbortsTheUpstreamTransfer) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway().ok());
  ASSERT_TRUE(harness.Create(Harness::DemoRequest("demo-firmware-1")).status.ok());
  const double connections_before = harness.Stat("connections_accepted");  // +1: the stats call
  ASSERT_TRUE(harness.ArmFault("delay", 1, 2000).ok());

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::CreateVerifyJobRequest request = Harness::DemoRequest("demo-firmware-2");
  v1::CreateVerifyJobResponse response;
  absl::Notification done;
  grpc::Status status;
  harness.stub().async()->CreateVerifyJob(&context, &request, &response, [&](grpc::Status s) {
    status = s;
    done.Notify();
  });
  absl::SleepFor(absl::Milliseconds(200));  // the transfer is waiting on the slow upstream
  context.TryCancel();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);

  // Only an aborted transfer drops its connection: then the next call needs a new one
  // (besides the fault request's and this stats request's own). A transfer left running would
  // have finished after 2 s and returned its connection to the pool.
  absl::SleepFor(absl::Milliseconds(2500));
  ASSERT_TRUE(harness.Create(Harness::DemoRequest("demo-firmware-3")).status.ok());
  EXPECT_EQ(harness.Stat("connections_accepted"), connections_before + 3);
  EXPECT_TRUE(harness.gateway().WaitForOutput("\"grpc_code\":\"CANCELLED\""));
}

TEST(TransportShutdown, CancelledCallDoesNotDelayShutdown) {
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator().ok());
  ASSERT_TRUE(harness.StartGateway({"--shutdown_grace=200ms"}).ok());
  ASSERT_TRUE(harness.ArmFault("delay", 1, 10000).ok());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::CreateVerifyJobRequest request = Harness::DemoRequest();
  v1::CreateVerifyJobResponse response;
  std::atomic<bool> done{false};
  harness.stub().async()->CreateVerifyJob(&context, &request, &response,
                                          [&](grpc::Status) { done = true; });
  absl::SleepFor(absl::Milliseconds(200));  // the call is waiting on the upstream
  const absl::Time start = absl::Now();
  // The upstream would answer after 10 s; the grace is 200 ms. Allow generous slack for a
  // loaded machine, far below the 10 s an unaborted transfer would hold shutdown.
  absl::StatusOr<int> exit_status = harness.gateway().Stop(SIGTERM, absl::Seconds(5));
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(exit_status.ok()) << "gateway still running 5 s after SIGTERM";
  EXPECT_EQ(*exit_status, 0);
  std::cout << "shutdown with a call stuck upstream took " << took << std::endl;
  for (int i = 0; i < 500 && !done; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(done) << "the client never saw its call end";
}

TEST(TransportBackPressure, OverCapacityCallsFailFastAndMemoryStaysBounded) {
  constexpr int kCalls = 3000;
  constexpr int kMaxInFlight = 512;  // queued behind 8 upstream connections
  Harness harness;
  ASSERT_TRUE(harness.StartEmulator({"--seed=" + Harness::WriteLoadSeed(kCalls)}).ok());
  ASSERT_TRUE(harness.StartGateway({absl::StrCat("--max_in_flight=", kMaxInFlight)}).ok());
  const long rss_before = ::otaverify::testing::PeakRssKib(harness.gateway().pid());
  // A slow upstream: every answer takes 50 ms, 8 at a time, so admitted calls queue for
  // seconds and the in-flight places stay taken.
  ASSERT_TRUE(harness.ArmFault("delay", -1, 50).ok());
  LoadResult load = RunLoad(harness, kCalls, kCalls, Harness::LoadRequest);
  const long rss_after = ::otaverify::testing::PeakRssKib(harness.gateway().pid());
  std::cout << kCalls << " simultaneous calls, " << kMaxInFlight << " in flight allowed: "
            << ::testing::PrintToString(load.by_outcome) << "; slowest rejection "
            << load.slowest["UNAVAILABLE GATEWAY_OVERLOADED"] << ", slowest success "
            << load.slowest["OK"] << "; gateway peak RSS " << rss_before << " KiB before, "
            << rss_after << " KiB after" << std::endl;
  EXPECT_EQ(load.Count("OK") + load.Count("UNAVAILABLE GATEWAY_OVERLOADED"), kCalls);
  EXPECT_GE(load.Count("UNAVAILABLE GATEWAY_OVERLOADED"), kCalls - 2 * kMaxInFlight);
  // Rejected calls never reached the upstream.
  EXPECT_EQ(harness.Stat("requests_total"), load.Count("OK"));
}

}  // namespace
}  // namespace otaverify

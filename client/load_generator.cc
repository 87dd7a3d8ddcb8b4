// otaverify-load: drives CreateVerifyJob calls through the client library's async API, at a
// fixed offered rate (open loop) or a fixed concurrency (closed loop), for a bounded time, and
// prints one JSON line: calls, calls/s, latency percentiles, and counts by gRPC code and
// ErrorInfo reason. Each call names its own firmware (`--firmware_prefix` + index modulo
// `--firmwares`), so a seed with that many unverified firmwares makes every create succeed.
//
// Example: otaverify-load --target 127.0.0.1:50051 --rate 200 --duration 10s
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/load_recorder.h"
#include "google/rpc/error_details.pb.h"
#include "service/common/json.h"
#include "service/status/rich_status.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "gateway address");
ABSL_FLAG(std::string, call, "create",
          "create: CreateVerifyJob; health: grpc.health.v1.Health/Check (no upstream)");
ABSL_FLAG(double, rate, 0, "offered calls per second (open loop); 0: closed loop");
ABSL_FLAG(int, concurrency, 16, "calls in flight at once in closed loop");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "how long to offer load");
ABSL_FLAG(absl::Duration, warmup, absl::ZeroDuration(), "load before measuring starts");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(2), "deadline of each call");
ABSL_FLAG(std::string, account, "", "credential profile");
ABSL_FLAG(std::string, product_key, "a1LoadProduct", "product of every call");
ABSL_FLAG(std::string, device, "load-device-1", "target device of every call");
ABSL_FLAG(std::string, firmware_prefix, "load-fw-", "firmware ids are prefix + index");
ABSL_FLAG(int, firmwares, 100000, "distinct firmware ids to cycle through");
ABSL_FLAG(int, firmware_offset, 0, "index of the first firmware (separate ranges per client)");

namespace otaverify {
namespace {

v1::CreateVerifyJobRequest RequestFor(int64_t index) {
  v1::CreateVerifyJobRequest request;
  request.set_account(absl::GetFlag(FLAGS_account));
  request.set_product_key(absl::GetFlag(FLAGS_product_key));
  request.set_firmware_id(absl::StrCat(
      absl::GetFlag(FLAGS_firmware_prefix),
      absl::GetFlag(FLAGS_firmware_offset) + index % std::max(1, absl::GetFlag(FLAGS_firmwares))));
  request.add_target_device_names(absl::GetFlag(FLAGS_device));
  return request;
}

// One gRPC health Check: an empty HealthCheckRequest (service "") is zero bytes on the wire.
// The answer is not parsed; the status is what is recorded.
class HealthCaller {
 public:
  explicit HealthCaller(std::shared_ptr<grpc::Channel> channel) : stub_(std::move(channel)) {}

  void Check(const CallOptions& options, absl::AnyInvocable<void(absl::Status) &&> done) const {
    struct Call {
      grpc::ClientContext context;
      grpc::ByteBuffer request;
      grpc::ByteBuffer response;
    };
    auto call = std::make_shared<Call>();
    // A default ByteBuffer is "no message" to gRPC; an empty message needs one empty slice.
    grpc::Slice empty;
    call->request = grpc::ByteBuffer(&empty, 1);
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
    call->context.set_wait_for_ready(options.wait_for_ready);
    // std::function needs a copyable callable: the move-only `done` lives in a shared_ptr.
    auto on_done = std::make_shared<absl::AnyInvocable<void(absl::Status) &&>>(std::move(done));
    stub_.UnaryCall(&call->context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                    &call->request, &call->response, [call, on_done](grpc::Status status) {
                      (std::move(*on_done))(FromGrpcStatus(status));
                    });
  }

 private:
  mutable grpc::GenericStub stub_;
};

int Run() {
  const std::string call_kind = absl::GetFlag(FLAGS_call);
  if (call_kind != "create" && call_kind != "health") {
    std::fprintf(stderr, "--call must be create or health\n");
    return 2;
  }
  std::shared_ptr<grpc::Channel> channel = CreateGatewayChannel(absl::GetFlag(FLAGS_target));
  const Client client(channel);
  const HealthCaller health(channel);
  CallOptions options;
  options.deadline = absl::GetFlag(FLAGS_deadline);
  options.wait_for_ready = true;
  const absl::Time start = absl::Now();
  const absl::Time measure_from = start + absl::GetFlag(FLAGS_warmup);
  const absl::Time end = measure_from + absl::GetFlag(FLAGS_duration);
  LoadRecorder recorder(measure_from);
  const absl::StatusOr<absl::Duration> cpu_before = ProcessCpuTime();
  std::atomic<int64_t> next{0};
  // Calls whose callback has not finished with this function's locals yet: each callback's
  // last access to them is its decrement (after on_done() started the next call), so once the
  // count is 0 nothing still running refers to them.
  std::atomic<int64_t> outstanding{0};
  // The closed loop's continuation; callbacks run it on gRPC's threads, so it lives as long as
  // the locals it refers to.
  std::function<void()> again;

  auto send = [&](auto&& on_done) {
    const int64_t index = next.fetch_add(1);
    const absl::Time started = absl::Now();
    outstanding.fetch_add(1);
    if (call_kind == "health") {
      health.Check(options, [&, started, on_done](absl::Status status) mutable {
        recorder.Record(started, absl::Now() - started, status);
        on_done();
        outstanding.fetch_sub(1);
      });
      return;
    }
    client.CreateVerifyJobAsync(
        RequestFor(index), options,
        [&, started, on_done](absl::StatusOr<v1::CreateVerifyJobResponse> result,
                              CallMetadata) mutable {
          recorder.Record(started, absl::Now() - started, result.status());
          on_done();
          outstanding.fetch_sub(1);
        });
  };

  const double rate = absl::GetFlag(FLAGS_rate);
  if (rate > 0) {
    // Open loop: calls start on schedule whatever the answers do, as independent callers would.
    const absl::Duration interval = absl::Seconds(1.0 / rate);
    for (absl::Time at = start; at < end; at += interval) {
      absl::SleepFor(at - absl::Now());
      send([] {});
    }
  } else {
    again = [&] {
      if (absl::Now() < end) send(again);
    };
    for (int i = 0; i < absl::GetFlag(FLAGS_concurrency); ++i) send(again);
    absl::SleepFor(end - absl::Now());
  }
  // Bounded wait for the last answers (deadlines end them).
  const absl::Time give_up = absl::Now() + absl::GetFlag(FLAGS_deadline) + absl::Seconds(5);
  while (outstanding.load() > 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(10));
  // The client's own CPU per call (left out if /proc cannot tell): on a shared machine it is
  // taken from what the gateway and the upstream could have used.
  std::string client_cpu;
  const absl::StatusOr<absl::Duration> cpu_after = ProcessCpuTime();
  if (cpu_before.ok() && cpu_after.ok()) {
    client_cpu = absl::StrFormat(
        ",\"client_cpu_us_per_call\":%.1f",
        absl::ToDoubleMicroseconds(*cpu_after - *cpu_before) /
            static_cast<double>(std::max<int64_t>(1, recorder.answered())));
  }
  std::printf("%s\n",
              absl::StrCat("{", recorder.JsonMembers(std::min(end, absl::Now()) - measure_from),
                           client_cpu, "}")
                  .c_str());
  return outstanding.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace otaverify

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Drives CreateVerifyJob load through an OtaVerify gateway.");
  absl::ParseCommandLine(argc, argv);
  return otaverify::Run();
}

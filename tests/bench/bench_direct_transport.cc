// bench_direct_transport: the HTTP ceiling of `make bench`. Sends CreateOTAVerifyJob calls
// straight through the gateway's own upstream path minus gRPC: CreateVerifyJobCall builds the
// parameters, SignRpcCall signs them with a fresh nonce and time (as UpstreamCaller does for
// every attempt), CurlTransport sends them with the gateway's default connection bound, and
// ReadUpstreamReply + ParseCreateVerifyJobResponse read the answer. No admission, no retries,
// no gRPC.
//
// Closed loop at a fixed concurrency for a bounded time after a warm-up; each answer's callback
// (on the transport's loop thread) signs and sends the next call. Each call names its own
// firmware (`--firmware_prefix` + `--firmware_offset` + index), so a seed with enough
// unverified firmwares makes every create succeed. Prints one JSON line in the shape of
// otaverify-load's, plus the process's own cost: CPU microseconds per answered call (utime +
// stime from /proc/self/stat over the whole run, warm-up included, divided by every answered
// call), peak RSS (VmHWM) and the connections the transport opened.
//
// Example: bench_direct_transport --endpoint http://127.0.0.1:18080 --concurrency 64

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/load_recorder.h"
#include "google/rpc/error_details.pb.h"
#include "service/aliyun/create_verify_job.h"
#include "service/aliyun/error_mapping.h"
#include "service/aliyun/nonce.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/json.h"
#include "service/credentials/credentials.h"
#include "service/status/rich_status.h"
#include "service/transport/curl_transport.h"

ABSL_FLAG(std::string, endpoint, "http://127.0.0.1:18080", "upstream base URL (the emulator)");
ABSL_FLAG(std::string, signature_version, "v3", "v3 or v1, as the gateway's flag");
ABSL_FLAG(int, concurrency, 16, "calls in flight at once");
ABSL_FLAG(int, max_connections, 8, "CurlTransport max_host_connections (the gateway's default)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "how long to measure");
ABSL_FLAG(absl::Duration, warmup, absl::ZeroDuration(), "load before measuring starts");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(2), "budget of each attempt");
ABSL_FLAG(std::string, product_key, "a1LoadProduct", "product of every call");
ABSL_FLAG(std::string, device, "load-device-1", "target device of every call");
ABSL_FLAG(std::string, firmware_prefix, "load-fw-", "firmware ids are prefix + index");
ABSL_FLAG(int, firmwares, 100000, "distinct firmware ids to cycle through");
ABSL_FLAG(int, firmware_offset, 0, "index of the first firmware");

namespace otaverify {
namespace {

constexpr char kDefaultKeyId[] = "emulator-access-key-id";
constexpr char kDefaultSecret[] = "emulator-access-key-secret";

// VmHWM from /proc/self/status, in KiB.
int64_t PeakRssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmHWM:")) {
      int64_t kib = 0;
      std::istringstream(line.substr(6)) >> kib;
      return kib;
    }
  }
  return 0;
}

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// The closed loop: `concurrency` chains of calls, each call's answer starting the next until
// `end`. REQUIRES: the transport is destroyed (its loop thread stopped) before the Loop.
class Loop {
 public:
  Loop(HttpTransport* transport, LoadRecorder* recorder, Credentials credentials, Endpoint endpoint,
       SignatureVersion version, absl::Time end)
      : transport_(transport),
        recorder_(recorder),
        credentials_(std::move(credentials)),
        endpoint_(std::move(endpoint)),
        version_(version),
        end_(end) {}

  void Start(int concurrency) {
    for (int i = 0; i < concurrency; ++i) SendOne();
  }
  int64_t outstanding() const { return outstanding_.load(); }

 private:
  void SendOne() {
    const int64_t index = next_.fetch_add(1);
    v1::CreateVerifyJobRequest request;
    request.set_product_key(absl::GetFlag(FLAGS_product_key));
    request.set_firmware_id(absl::StrCat(absl::GetFlag(FLAGS_firmware_prefix),
                                         absl::GetFlag(FLAGS_firmware_offset) +
                                             index % std::max(1, absl::GetFlag(FLAGS_firmwares))));
    request.add_target_device_names(absl::GetFlag(FLAGS_device));
    const absl::Time started = absl::Now();
    HttpRequest http = BuildSignedRequest(CreateVerifyJobCall(request), credentials_, endpoint_,
                                          version_, started, NewNonce());
    http.timeout = absl::GetFlag(FLAGS_timeout);
    outstanding_.fetch_add(1);
    transport_->Send(std::move(http), [this, started](absl::StatusOr<HttpResponse> response) {
      recorder_->Record(started, absl::Now() - started, Outcome(response));
      outstanding_.fetch_sub(1);
      if (absl::Now() < end_) SendOne();
    });
  }

  // What the gateway would answer, read the way it reads the upstream.
  absl::Status Outcome(const absl::StatusOr<HttpResponse>& response) const {
    const ReplyContext context{kCreateOTAVerifyJob, /*idempotent=*/false, &credentials_};
    if (!response.ok()) return MapTransportFailure(response.status(), context);
    const UpstreamReply reply = ReadUpstreamReply(*response, context);
    if (!reply.status.ok()) return reply.status;
    return ParseCreateVerifyJobResponse(response->body).status();
  }

  HttpTransport* const transport_;
  LoadRecorder* const recorder_;
  const Credentials credentials_;
  const Endpoint endpoint_;
  const SignatureVersion version_;
  const absl::Time end_;
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> outstanding_{0};
};

int Run() {
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint(absl::GetFlag(FLAGS_endpoint));
  absl::StatusOr<SignatureVersion> version =
      ParseSignatureVersion(absl::GetFlag(FLAGS_signature_version));
  if (!endpoint.ok() || !version.ok()) {
    std::fprintf(stderr, "bad --endpoint or --signature_version\n");
    return 2;
  }
  Credentials credentials;
  credentials.access_key_id = EnvOr("ALIBABA_CLOUD_ACCESS_KEY_ID", kDefaultKeyId);
  credentials.access_key_secret = EnvOr("ALIBABA_CLOUD_ACCESS_KEY_SECRET", kDefaultSecret);
  credentials.source = "env";

  CurlTransport::Options options;
  options.max_host_connections = absl::GetFlag(FLAGS_max_connections);

  const absl::Time start = absl::Now();
  const absl::Time measure_from = start + absl::GetFlag(FLAGS_warmup);
  const absl::Time end = measure_from + absl::GetFlag(FLAGS_duration);
  LoadRecorder recorder(measure_from);
  absl::StatusOr<std::unique_ptr<CurlTransport>> transport = CurlTransport::Create(options);
  if (!transport.ok()) {
    std::fprintf(stderr, "%s\n", std::string(transport.status().message()).c_str());
    return 1;
  }
  Loop loop(transport->get(), &recorder, credentials, *endpoint, *version, end);

  const absl::StatusOr<absl::Duration> cpu_before = ProcessCpuTime();
  if (!cpu_before.ok()) {
    std::fprintf(stderr, "bench_direct_transport: %s\n", cpu_before.status().ToString().c_str());
    return 1;
  }
  loop.Start(absl::GetFlag(FLAGS_concurrency));
  absl::SleepFor(end - absl::Now());
  // Bounded wait for the last answers (the attempt timeout ends them).
  const absl::Time give_up = absl::Now() + absl::GetFlag(FLAGS_timeout) + absl::Seconds(5);
  while (loop.outstanding() > 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  const absl::StatusOr<absl::Duration> cpu_after = ProcessCpuTime();
  if (!cpu_after.ok()) {
    std::fprintf(stderr, "bench_direct_transport: %s\n", cpu_after.status().ToString().c_str());
    return 1;
  }
  const absl::Duration cpu = *cpu_after - *cpu_before;
  const int64_t outstanding = loop.outstanding();
  const CurlTransport::Stats stats = (*transport)->GetStats();
  const int64_t answered = recorder.answered();

  absl::PrintF("{%s,\"cpu_us_per_call\":%.1f,\"peak_rss_kib\":%d,\"connections_opened\":%d}\n",
               recorder.JsonMembers(std::min(end, absl::Now()) - measure_from),
               absl::ToDoubleMicroseconds(cpu) / std::max<int64_t>(1, answered), PeakRssKib(),
               stats.connections_opened);
  std::fflush(stdout);
  // The transport (and with it the loop thread) stops before the loop it calls back into.
  transport->reset();
  return outstanding == 0 ? 0 : 1;
}

}  // namespace
}  // namespace otaverify

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Sends signed CreateOTAVerifyJob calls through CurlTransport at a fixed concurrency.");
  absl::ParseCommandLine(argc, argv);
  return otaverify::Run();
}

#include "service/server/metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

// Upstream answers take milliseconds to seconds; the top buckets sit at the attempt cap.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30};
  return *buckets;
}

// An HTTP status as a label value: the statuses the gateway treats differently keep their
// number, any other is counted by class ("2xx", "4xx", "5xx", "other"), so a peer cannot
// create series at will.
std::string StatusLabel(int status) {
  switch (status) {
    case 0:
    case 200:
    case 400:
    case 403:
    case 404:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return absl::StrCat(status);
    default:
      if (status >= 200 && status < 600) return absl::StrCat(status / 100, "xx");
      return "other";
  }
}

// A watch lasts as long as its job: its duration says nothing about the gateway's latency.
constexpr absl::string_view kStreamingMethod = "WatchVerifyJob";

}  // namespace

// The series read at scrape time.
class Metrics::Samplers : public prometheus::Collectable {
 public:
  struct Sampler {
    std::string name;
    std::string help;
    Kind kind;
    std::function<std::vector<Sample>()> sample;
  };

  void Add(Sampler sampler) {
    absl::MutexLock lock(&mu_);
    samplers_.push_back(std::make_shared<const Sampler>(std::move(sampler)));
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<std::shared_ptr<const Sampler>> samplers;
    {
      absl::MutexLock lock(&mu_);
      samplers = samplers_;
    }
    // The samplers take their components' locks: never under this one.
    std::vector<prometheus::MetricFamily> families;
    for (const auto& sampler_ptr : samplers) {
      const Sampler& sampler = *sampler_ptr;
      prometheus::MetricFamily family;
      family.name = sampler.name;
      family.help = sampler.help;
      family.type = sampler.kind == Kind::kGauge ? prometheus::MetricType::Gauge
                                                 : prometheus::MetricType::Counter;
      for (const Sample& sample : sampler.sample()) {
        prometheus::ClientMetric metric;
        for (const auto& [name, value] : sample.labels) metric.label.push_back({name, value});
        if (sampler.kind == Kind::kGauge) {
          metric.gauge.value = sample.value;
        } else {
          metric.counter.value = sample.value;
        }
        family.metric.push_back(std::move(metric));
      }
      families.push_back(std::move(family));
    }
    return families;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<const Sampler>> samplers_ ABSL_GUARDED_BY(mu_);
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      samplers_(std::make_shared<Samplers>()),
      rpc_handled_(prometheus::BuildCounter()
                       .Name("otaverify_grpc_server_handled_total")
                       .Help("gRPC calls finished, by method and status code")
                       .Register(*registry_)),
      rpc_seconds_(prometheus::BuildHistogram()
                       .Name("otaverify_grpc_server_handling_seconds")
                       .Help("Time from a unary call's arrival to its answer, by method")
                       .Register(*registry_)),
      upstream_requests_(prometheus::BuildCounter()
                             .Name("otaverify_upstream_requests_total")
                             .Help("Upstream attempts by action, HTTP status (0: no answer) and "
                                   "upstream error code (empty on success)")
                             .Register(*registry_)),
      upstream_seconds_(prometheus::BuildHistogram()
                            .Name("otaverify_upstream_request_seconds")
                            .Help("Time of one upstream attempt, by action")
                            .Register(*registry_)),
      upstream_connections_(prometheus::BuildCounter()
                                .Name("otaverify_upstream_connections_opened_total")
                                .Help("Upstream attempts that had to open a new connection")
                                .Register(*registry_)),
      upstream_retries_(prometheus::BuildCounter()
                            .Name("otaverify_upstream_retries_total")
                            .Help("Upstream attempts scheduled again after a retryable failure")
                            .Register(*registry_)),
      quota_waits_(prometheus::BuildCounter()
                       .Name("otaverify_rate_limit_waits_total")
                       .Help("Calls that waited for the account's quota before being sent")
                       .Register(*registry_)),
      quota_wait_seconds_(prometheus::BuildCounter()
                              .Name("otaverify_rate_limit_wait_seconds_total")
                              .Help("Time calls spent waiting for the account's quota")
                              .Register(*registry_)),
      quota_rejections_(prometheus::BuildCounter()
                            .Name("otaverify_rate_limit_rejections_total")
                            .Help("Calls refused because the quota could not take them before "
                                  "their deadline (GATEWAY_RATE_LIMITED)")
                            .Register(*registry_)),
      credentials_rejected_(prometheus::BuildCounter()
                                .Name("otaverify_credentials_rejected_total")
                                .Help("Upstream answers rejecting the gateway's key or token, "
                                      "by profile (each triggers a refresh)")
                                .Register(*registry_)) {}

Metrics::~Metrics() = default;

absl::StatusOr<std::string> Metrics::Serve(const std::string& address) {
  // prometheus-cpp reports a port it cannot bind by throwing; nothing else here throws.
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(samplers_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (ports.empty()) return absl::UnavailableError("metrics server bound no port");
  return absl::StrCat(address.substr(0, address.rfind(':')), ":", ports.front());
}

void Metrics::Stop() { exposer_.reset(); }

std::string Metrics::CodeLabel(absl::string_view code) {
  constexpr size_t kMaxCodes = 100;
  constexpr size_t kMaxCodeLength = 64;
  // The codes alerts are written on keep their own label whatever came before them.
  static constexpr absl::string_view kKnown[] = {"Throttling",
                                                 "Throttling.User",
                                                 "Throttling.Api",
                                                 "Rejected.Throttling",
                                                 "ServiceUnavailable",
                                                 "InternalError",
                                                 "SignatureDoesNotMatch",
                                                 "InvalidAccessKeyId.NotFound",
                                                 "iot.system.SystemException"};
  if (code.empty()) return "";
  for (absl::string_view known : kKnown) {
    if (known == code) return std::string(known);
  }
  absl::MutexLock lock(&codes_mu_);
  for (const std::string& known : codes_) {
    if (known == code) return known;
  }
  if (codes_.size() >= kMaxCodes || code.size() > kMaxCodeLength) return "other";
  codes_.emplace_back(code);
  return codes_.back();
}

void Metrics::AddSampler(std::string name, std::string help, Kind kind,
                         std::function<std::vector<Sample>()> sample) {
  samplers_->Add({std::move(name), std::move(help), kind, std::move(sample)});
}

std::string Metrics::Text() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> sampled = samplers_->Collect();
  families.insert(families.end(), sampled.begin(), sampled.end());
  return prometheus::TextSerializer().Serialize(families);
}

void Metrics::OnRpcDone(absl::string_view method, absl::StatusCode code, absl::Duration latency) {
  rpc_handled_.Add({{"method", std::string(method)}, {"code", StatusCodeName(code)}}).Increment();
  if (method == kStreamingMethod) return;
  rpc_seconds_.Add({{"method", std::string(method)}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::OnAttempt(absl::string_view action, int http_status, absl::string_view upstream_code,
                        absl::Duration latency, bool new_connection) {
  const std::string action_label(action);
  upstream_requests_
      .Add({{"action", action_label},
            {"http_status", StatusLabel(http_status)},
            {"upstream_code", CodeLabel(upstream_code)}})
      .Increment();
  upstream_seconds_.Add({{"action", action_label}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
  if (new_connection) upstream_connections_.Add({{"action", action_label}}).Increment();
}

void Metrics::OnRetry(absl::string_view action) {
  upstream_retries_.Add({{"action", std::string(action)}}).Increment();
}

void Metrics::OnQuotaWait(absl::string_view action, absl::Duration wait) {
  quota_waits_.Add({{"action", std::string(action)}}).Increment();
  quota_wait_seconds_.Add({{"action", std::string(action)}}).Increment(absl::ToDoubleSeconds(wait));
}

void Metrics::OnQuotaRejected(absl::string_view action) {
  quota_rejections_.Add({{"action", std::string(action)}}).Increment();
}

void Metrics::OnCredentialsRejected(absl::string_view profile) {
  credentials_rejected_.Add({{"profile", std::string(profile)}}).Increment();
}

}  // namespace otaverify

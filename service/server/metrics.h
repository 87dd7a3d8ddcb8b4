// Metrics: the gateway's Prometheus series, served as text on their own port (--metrics_listen)
// so scraping never competes with the gRPC port.
//
// Event series are counted as things happen: gRPC calls handled and their latency by method
// and code, upstream attempts by action, HTTP status and upstream code, upstream latency,
// connections opened, retries, quota waits and rejections. State series are read at scrape
// time from the components that own the state (calls in flight, breakers, credential caches,
// watches, the transport) through the Sample callbacks registered with AddSampler.
//
// Every series name starts with otaverify_. Label values come from a closed set (methods,
// actions, codes, profile and endpoint names from the configuration); upstream codes are
// kept as sent, since the upstream's set is small and they are what an operator searches for.
//
// Thread-safe.
#ifndef OTAVERIFY_SERVICE_SERVER_METRICS_H_
#define OTAVERIFY_SERVICE_SERVER_METRICS_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "service/server/ota_verify_service.h"
#include "service/server/upstream_caller.h"

namespace prometheus {
class Exposer;
}

namespace otaverify {

class Metrics : public UpstreamObserver, public RpcObserver {
 public:
  // One sampled value: its labels (name, value) and the number.
  struct Sample {
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
  };
  enum class Kind { kGauge, kCounter };

  Metrics();
  ~Metrics() override;

  // Starts serving GET /metrics on `address` ("host:port"; port 0 picks one). Returns the
  // address actually bound.
  absl::StatusOr<std::string> Serve(const std::string& address);
  // Stops serving (waits for a scrape in progress). Call before anything a sampler reads goes.
  void Stop();

  // Adds a series whose values `sample` reads at each scrape. `sample` must be thread-safe and
  // must outlive the Metrics object (or the server).
  void AddSampler(std::string name, std::string help, Kind kind,
                  std::function<std::vector<Sample>()> sample);

  // The exposition text, as a scrape would get it (for tests and logs).
  std::string Text() const;

  // RpcObserver
  void OnRpcDone(absl::string_view method, absl::StatusCode code, absl::Duration latency) override;

  // UpstreamObserver
  void OnAttempt(absl::string_view action, int http_status, absl::string_view upstream_code,
                 absl::Duration latency, bool new_connection) override;
  void OnRetry(absl::string_view action) override;
  void OnQuotaWait(absl::string_view action, absl::Duration wait) override;
  void OnQuotaRejected(absl::string_view action) override;
  void OnCredentialsRejected(absl::string_view profile) override;

 private:
  class Samplers;

  // An upstream code as a label value: codes beyond the first 100 distinct ones (a peer could
  // send any text) are counted as "other", so the series cannot grow without bound.
  std::string CodeLabel(absl::string_view code);

  absl::Mutex codes_mu_;
  std::vector<std::string> codes_ ABSL_GUARDED_BY(codes_mu_);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Samplers> samplers_;
  std::unique_ptr<prometheus::Exposer> exposer_;

  prometheus::Family<prometheus::Counter>& rpc_handled_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  prometheus::Family<prometheus::Counter>& upstream_requests_;
  prometheus::Family<prometheus::Histogram>& upstream_seconds_;
  prometheus::Family<prometheus::Counter>& upstream_connections_;
  prometheus::Family<prometheus::Counter>& upstream_retries_;
  prometheus::Family<prometheus::Counter>& quota_waits_;
  prometheus::Family<prometheus::Counter>& quota_wait_seconds_;
  prometheus::Family<prometheus::Counter>& quota_rejections_;
  prometheus::Family<prometheus::Counter>& credentials_rejected_;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_METRICS_H_

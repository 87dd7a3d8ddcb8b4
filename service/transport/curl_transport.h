// CurlTransport: HttpTransport over one libcurl multi handle driven by one loop thread.
//
// Producers enqueue and wake the loop (curl_multi_wakeup); the loop owns every easy handle, so
// all transfers share one connection cache without locks, and a share handle used only by the
// loop thread keeps DNS answers and TLS sessions across connections (a reconnect after a
// connection's lifetime resumes its TLS session instead of a full handshake). Connections are
// bounded per host, kept alive, aged out before the upstream's idle timeout and retired after a
// maximum lifetime (DNS and load-balancer changes get picked up). TLS peer and host
// verification are always on. Callbacks run on the loop thread and must not block.
//
// Thread-safe. Destroying the transport stops the loop and fails every unfinished transfer
// with CANCELLED before returning; other threads must have stopped calling Send and Cancel by
// then (the transport's own callbacks may still call them: they get CANCELLED at once).
#ifndef OTAVERIFY_SERVICE_TRANSPORT_CURL_TRANSPORT_H_
#define OTAVERIFY_SERVICE_TRANSPORT_CURL_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/transport/http_transport.h"

namespace otaverify {

class CurlTransport : public HttpTransport {
 public:
  struct Options {
    // Upper bound of simultaneous connections to one host (CURLMOPT_MAX_HOST_CONNECTIONS).
    int max_host_connections = 8;
    absl::Duration connect_timeout = absl::Seconds(5);
    // A kept-alive connection idle longer than this is not reused: it must be younger than the
    // upstream's own idle timeout, or the reuse races the server's close.
    absl::Duration max_idle_age = absl::Seconds(30);
    // A connection older than this is not reused.
    absl::Duration max_lifetime = absl::Seconds(300);
    // Response bodies above this fail with RESOURCE_EXHAUSTED.
    size_t max_response_bytes = 1 << 20;
    // PEM bundle of extra trusted CAs; empty = the system store.
    std::string ca_file;
  };

  struct Stats {
    uint64_t transfers_started = 0;
    uint64_t transfers_finished = 0;
    uint64_t connections_opened = 0;
    uint64_t transfers_cancelled = 0;
  };

  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create(const Options& options);
  ~CurlTransport() override;

  TransferId Send(HttpRequest request, HttpCallback done) override;
  void Cancel(TransferId id) override;
  Stats GetStats() const;

  class Impl;

 private:
  explicit CurlTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_TRANSPORT_CURL_TRANSPORT_H_

// HttpTransport: the seam between the gateway and the network.
//
// One method: send a request, get a callback with the response or a transport failure. An HTTP
// 4xx/5xx is a successful HttpResponse; turning it into a status is the error mapping's job.
// Implementations must be thread-safe: Send may be called from any thread, concurrently.
#ifndef OTAVERIFY_SERVICE_TRANSPORT_HTTP_TRANSPORT_H_
#define OTAVERIFY_SERVICE_TRANSPORT_HTTP_TRANSPORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace otaverify {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "POST";
  std::string url;  // scheme://host[:port]/path?query, already encoded
  HttpHeaders headers;
  std::string body;
  // Whole-attempt budget: connect, send and receive.
  absl::Duration timeout = absl::Seconds(15);
  // Connect directly even when an HTTP proxy is configured in the environment (the ECS
  // metadata service must never be reached through a proxy).
  bool no_proxy = false;
};

// What one transfer cost, from curl_easy_getinfo.
struct TransferInfo {
  bool new_connection = false;
  // TCP connect and TLS handshake of a new connection; zero when one was reused.
  absl::Duration connect_time;
  absl::Duration tls_handshake_time;
  absl::Duration total_time;
  std::string http_version;  // "1.1", "2"
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names lower-cased
  std::string body;
  TransferInfo info;
};

// Transport failures are absl::Status values with these codes:
//   UNAVAILABLE        nothing was sent (connect, DNS, TLS): safe to retry.
//   DEADLINE_EXCEEDED  the attempt ran out of time; the request may have been processed
//                      unless WasNotSent() (no connection became free in time).
//   UNKNOWN            failed after sending (reset, truncated reply): outcome unknown.
//   RESOURCE_EXHAUSTED the response body exceeded the size cap.
//   CANCELLED          Cancel() was called, or the transport shut down, before the transfer
//                      finished.

// Marks a failure whose request never left the gateway, so it is safe to send again.
inline constexpr char kNotSentPayload[] = "otaverify/transport/not-sent";
inline absl::Status NotSent(absl::Status failure) {
  failure.SetPayload(kNotSentPayload, absl::Cord("1"));
  return failure;
}
inline bool WasNotSent(const absl::Status& failure) {
  return failure.GetPayload(kNotSentPayload).has_value();
}

using HttpCallback = absl::AnyInvocable<void(absl::StatusOr<HttpResponse>) &&>;

// Names one transfer for Cancel. Never reused by a transport instance.
using TransferId = uint64_t;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends `request`; `done` runs exactly once and must not block. It runs on a transport
  // thread, except for a transfer that never started (cancelled while queued, or sent to a
  // transport shutting down): then it runs on the thread calling Send or Cancel, possibly
  // before Send returns.
  virtual TransferId Send(HttpRequest request, HttpCallback done) = 0;
  // Aborts the transfer if it has not finished: its connection is dropped and `done` runs with
  // CANCELLED. A no-op for a finished or unknown id. Never blocks.
  virtual void Cancel(TransferId id) = 0;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_TRANSPORT_HTTP_TRANSPORT_H_

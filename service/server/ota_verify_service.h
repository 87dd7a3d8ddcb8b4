// OtaVerifyService: the gRPC callback service. Each call is validated, signed and sent
// through the HttpTransport without blocking a gRPC thread; the transport's completion
// finishes the call.
//
// Path of one call: validate → resolve account → admit (bounded in-flight count) → credentials
// snapshot → build + sign → transport → read reply → map → Finish. A cancelled call (caller
// gone, deadline passed, server shutting down) aborts its upstream transfer at once. Every
// outcome that reached the upstream carries its RequestId in the x-upstream-request-id trailer
// and in the access log line.
//
// Thread-safe. The transport, credentials provider and clock must outlive the service; the
// server must be shut down before they are destroyed.
#ifndef OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_
#define OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "otaverify/v1/ota_verify.grpc.pb.h"
#include "service/aliyun/rpc_request.h"
#include "service/credentials/credentials.h"
#include "service/common/clock.h"
#include "service/server/signature_mismatch_log.h"
#include "service/transport/http_transport.h"

namespace otaverify {

class OtaVerifyService final : public v1::OtaVerify::CallbackService {
 public:
  struct Options {
    Endpoint endpoint;
    SignatureVersion signature_version = SignatureVersion::kV3;
    // Budget of a call whose caller set no deadline, and the cap of one upstream attempt.
    absl::Duration max_attempt_time = absl::Seconds(15);
    // Calls waiting on the upstream at once; beyond it calls fail fast with UNAVAILABLE.
    int max_in_flight = 256;
  };

  OtaVerifyService(Options options, CredentialsProvider* credentials, HttpTransport* transport,
                   const Clock* clock);

  grpc::ServerUnaryReactor* CreateVerifyJob(grpc::CallbackServerContext* context,
                                            const v1::CreateVerifyJobRequest* request,
                                            v1::CreateVerifyJobResponse* response) override;

  // Calls admitted and not yet finished.
  int InFlight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  class Reactor;

  const Options options_;
  CredentialsProvider* const credentials_;
  HttpTransport* const transport_;
  const Clock* const clock_;
  std::atomic<int> in_flight_{0};
  SignatureMismatchLog mismatch_log_;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_

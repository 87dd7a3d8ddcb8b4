// OtaVerifyService: the gRPC callback service. Each call is validated, signed and sent
// through the HttpTransport without blocking a gRPC thread; the transport's completion
// finishes the call.
//
// Path of one call: validate → resolve the account's profile → admit (bounded in-flight count)
// → credentials snapshot (inline when cached; otherwise after the one fetch in flight) → build +
// sign → transport → read reply → map → Finish. When the upstream rejects the snapshot's key or
// token, the snapshot is invalidated and the call is re-signed with fresh credentials and sent
// once more. A cancelled call (caller gone, deadline passed, server stopping) aborts whatever it
// waits on at once. Every outcome that reached the upstream carries its RequestId in the
// x-upstream-request-id trailer and in the access log line.
//
// Thread-safe. The transport, credentials providers and clock must outlive the service; the
// server must be shut down before they are destroyed.
#ifndef OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_
#define OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "otaverify/v1/ota_verify.grpc.pb.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"
#include "service/credentials/credentials.h"
#include "service/server/signature_mismatch_log.h"
#include "service/transport/http_transport.h"

namespace otaverify {

// One Alibaba Cloud account the gateway can act for: where its calls go and what signs them.
struct Profile {
  Endpoint endpoint;
  CredentialsProvider* credentials = nullptr;  // not owned
  // Sent when a request names no IoT instance; empty: none.
  std::string iot_instance_id;
};

class OtaVerifyService final : public v1::OtaVerify::CallbackService {
 public:
  struct Options {
    // By account name; "default" serves requests whose account is empty.
    absl::flat_hash_map<std::string, Profile> profiles;
    SignatureVersion signature_version = SignatureVersion::kV3;
    // Budget of a call whose caller set no deadline, and the cap of one upstream attempt.
    absl::Duration max_attempt_time = absl::Seconds(15);
    // Calls waiting on the upstream at once; beyond it calls fail fast with UNAVAILABLE.
    int max_in_flight = 256;
  };

  OtaVerifyService(Options options, HttpTransport* transport, const Clock* clock);

  grpc::ServerUnaryReactor* CreateVerifyJob(grpc::CallbackServerContext* context,
                                            const v1::CreateVerifyJobRequest* request,
                                            v1::CreateVerifyJobResponse* response) override;

  // Calls admitted and not yet finished.
  int InFlight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  class CallState;
  class Reactor;

  // Gets credentials, signs and sends attempt `attempt` (1-based) of the call.
  void StartAttempt(std::shared_ptr<CallState> state, int attempt);
  void OnReply(std::shared_ptr<CallState> state, int attempt, const CredentialsSnapshot& credentials,
               const std::string& string_to_sign, absl::StatusOr<HttpResponse> http_response);

  const Options options_;
  HttpTransport* const transport_;
  const Clock* const clock_;
  std::atomic<int> in_flight_{0};
  SignatureMismatchLog mismatch_log_;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_

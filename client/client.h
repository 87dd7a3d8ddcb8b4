// Client: the typed C++ client of the otaverify.v1.OtaVerify gRPC service.
//
// One object per channel; it owns only a generated stub over a shared grpc::Channel, so copies
// of the channel may be used elsewhere and the Client may outlive none of them in particular.
// Thread-safe: every method may be called concurrently from any thread (gRPC stubs are).
//
// Errors are absl::Status values built by FromGrpcStatus, so the google.rpc details the gateway
// puts in grpc-status-details-bin (ErrorInfo, BadRequest, RetryInfo, ...) survive as payloads
// and can be read with GetDetail<T>(status). Calls that reached the Alibaba Cloud upstream carry
// its RequestId in the `x-upstream-request-id` trailer, on success and on failure; the caller
// gets it through the optional CallMetadata out-parameter, because on failure there is no
// response message to put it in.
//
// Deadlines: CallOptions.deadline bounds the whole call, and for WatchVerifyJob that is the
// whole stream, not the gap between two messages. Watching a job that takes an hour needs an
// hour's deadline, or absl::InfiniteDuration() for none.
#ifndef OTAVERIFY_CLIENT_CLIENT_H_
#define OTAVERIFY_CLIENT_CLIENT_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "otaverify/v1/ota_verify.grpc.pb.h"

namespace otaverify {

// The trailer name the gateway uses for the upstream RequestId.
inline constexpr char kUpstreamRequestIdTrailer[] = "x-upstream-request-id";

// Per-call knobs.
struct CallOptions {
  // Relative to the start of the call; for a stream it bounds the whole stream.
  // absl::InfiniteDuration() sets no deadline.
  absl::Duration deadline = absl::Seconds(10);
  // false: fail fast with UNAVAILABLE when the channel cannot connect. true: queue the call
  // until the channel is ready or the deadline passes (useful right after the gateway starts).
  bool wait_for_ready = false;
};

// What the server said about a call besides its result. Filled on every outcome, OK or not.
struct CallMetadata {
  // The `x-upstream-request-id` trailer; empty when the call never reached the upstream
  // (e.g. rejected by validation, or the gateway was unreachable).
  std::string upstream_request_id;
  // The `x-gateway-attempts` trailer: upstream attempts the gateway made (retries and
  // reconciliation included); 0 when none.
  int attempts = 0;
};

// How a client channel reaches the gateway replicas.
struct ChannelOptions {
  // Client-side round robin over every address the target resolves to: with
  // "dns:///otaverify-gateway-headless.<namespace>.svc.cluster.local:50051" (the headless Service),
  // one address per ready replica, re-resolved when connections drop or age out.
  bool round_robin = true;
  // HTTP/2 keepalive pings while calls are open (watch streams), so a dead replica or a
  // silently dropped connection is noticed within about time + timeout.
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // Retries of calls that failed UNAVAILABLE (replica gone, connection refused, gateway
  // overloaded or shutting down) on another replica, for the idempotent methods only:
  // GetFirmwareVerification, GetVerifyJob, CancelVerifyJob and WatchVerifyJob (before its first
  // message). CreateVerifyJob is never retried by the channel. 1 disables retries.
  int max_attempts = 3;
};

// A channel to the gateway, set up as above (insecure: the gateway serves plain gRPC inside the
// cluster).
std::shared_ptr<grpc::Channel> CreateGatewayChannel(absl::string_view target,
                                                    const ChannelOptions& options = {});
// The gRPC service config CreateGatewayChannel uses (JSON), for inspection and tests.
std::string GatewayServiceConfig(const ChannelOptions& options);

class Client {
 public:
  // REQUIRES: channel != nullptr.
  explicit Client(std::shared_ptr<grpc::Channel> channel);

  // A client over CreateGatewayChannel(target) ("host:port" or any gRPC target URI, e.g.
  // "dns:///otaverify-gateway-headless.ns.svc.cluster.local:50051").
  // Connecting is lazy: an unreachable target shows up as UNAVAILABLE on the first call.
  // TODO(tls): take channel credentials once the gateway serves TLS.
  static Client Connect(absl::string_view target);

  Client(Client&&) = default;
  Client& operator=(Client&&) = default;

  // Creates a verification job. Not idempotent (see the proto), so it is never retried here.
  // `metadata`, if not null, receives the trailers of interest.
  absl::StatusOr<v1::CreateVerifyJobResponse> CreateVerifyJob(
      const v1::CreateVerifyJobRequest& request, const CallOptions& options = {},
      CallMetadata* metadata = nullptr) const;

  using CreateVerifyJobCallback =
      absl::AnyInvocable<void(absl::StatusOr<v1::CreateVerifyJobResponse> result,
                              CallMetadata metadata) &&>;
  // Starts the call and returns at once; `done` runs exactly once, on a gRPC thread, and must
  // not block. For callers that keep many calls in flight (the load generator).
  void CreateVerifyJobAsync(const v1::CreateVerifyJobRequest& request, const CallOptions& options,
                            CreateVerifyJobCallback done) const;

  // The firmware's verification state and its newest verify job. Read-only.
  absl::StatusOr<v1::FirmwareVerification> GetFirmwareVerification(
      const v1::GetFirmwareVerificationRequest& request, const CallOptions& options = {},
      CallMetadata* metadata = nullptr) const;

  // A verify job with every device's task. Read-only.
  absl::StatusOr<v1::VerifyJob> GetVerifyJob(const v1::GetVerifyJobRequest& request,
                                             const CallOptions& options = {},
                                             CallMetadata* metadata = nullptr) const;

  // Cancels the job's unfinished tasks in the requested states (all four when none is given).
  absl::StatusOr<v1::CancelVerifyJobResponse> CancelVerifyJob(
      const v1::CancelVerifyJobRequest& request, const CallOptions& options = {},
      CallMetadata* metadata = nullptr) const;

  // Receives each message of WatchVerifyJob in order, on the calling thread. Returning false
  // stops the watch: the call is cancelled and no further message is delivered.
  using WatchVerifyJobHandler = absl::FunctionRef<bool(const v1::WatchVerifyJobResponse& event)>;

  // Follows a verify job; blocks until the stream ends and returns how it ended: OK when the
  // server ended it (after the message whose job is `finished`), else the server's status with
  // its details (NOT_FOUND for an unknown job, DEADLINE_EXCEEDED when `options.deadline`, which
  // covers the whole stream, passed first, ...). A watch the handler stopped also returns OK:
  // the caller chose to end it. `upstream_error` messages are delivered like any other; they do
  // not end the stream. A replica that shuts down (UNAVAILABLE GATEWAY_SHUTTING_DOWN) does not
  // end the watch either: it is opened again (through another replica, with a channel from
  // CreateGatewayChannel) within the deadline, up to 10 times in a row without a message from
  // a replica, and its first message repeats
  // the job as it is then. `on_event` must not call back into this call.
  absl::Status WatchVerifyJob(const v1::WatchVerifyJobRequest& request, const CallOptions& options,
                              WatchVerifyJobHandler on_event,
                              CallMetadata* metadata = nullptr) const;

 private:
  std::unique_ptr<v1::OtaVerify::Stub> stub_;
};

}  // namespace otaverify

#endif  // OTAVERIFY_CLIENT_CLIENT_H_

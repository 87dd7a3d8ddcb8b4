// OtaVerifyService: the gRPC callback service. Each call is validated and handed to the
// UpstreamCaller without blocking a gRPC thread; the upstream's completion finishes the call.
//
// Path of a create: validate → resolve the account's profile → admit (bounded in-flight count)
// → join an identical create already in flight (same account and parameters), or lead one →
// UpstreamCaller (quota, breaker, credentials, signing, retries) → when the outcome is unknown,
// reconcile (the job the upstream created since the attempt, found with ListOTAJobByFirmware,
// is returned; an unverified firmware lets the create be sent again; anything else is
// UPSTREAM_OUTCOME_UNKNOWN) → with return_existing, a firmware already verifying answers with
// its active verify job → Finish.
// Reads (GetFirmwareVerification, GetVerifyJob) and CancelVerifyJob take the same path up to
// the admission, then the reads of upstream_reads.h or one CancelOTATaskByJob call.
// WatchVerifyJob streams: it is validated and resolved the same way, then joins the
// JobWatchHub, which polls each watched job once for all its watchers.
// A cancelled call (caller gone, deadline passed, server stopping) aborts what it waits on.
// Every unary response carries x-upstream-request-id (each upstream attempt's id, comma
// separated) and x-gateway-attempts trailers; the access log line carries the same.
//
// Thread-safe. The upstream caller, transport, scheduler and clock must outlive the service;
// call Shutdown() and shut the server down before they are destroyed.
#ifndef OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_
#define OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "otaverify/v1/ota_verify.grpc.pb.h"
#include "service/common/clock.h"
#include "service/resilience/scheduler.h"
#include "service/server/job_watch.h"
#include "service/server/upstream_caller.h"
#include "service/server/upstream_reads.h"
#include "service/transport/http_transport.h"

namespace otaverify {

// What the service reports about each call it answered, for metrics. Called without the
// service's locks held; implementations must be thread-safe and quick.
class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  // A call finished with `code` after `latency` (for a watch: how long it streamed).
  virtual void OnRpcDone(absl::string_view method, absl::StatusCode code,
                         absl::Duration latency) = 0;
};

class OtaVerifyService final : public v1::OtaVerify::CallbackService {
 public:
  struct Options {
    // By account name; "default" serves requests whose account is empty.
    absl::flat_hash_map<std::string, Profile> profiles;
    // Budget of a call whose caller set no deadline.
    absl::Duration default_deadline = absl::Seconds(15);
    // Calls waiting on the upstream at once; beyond it calls fail fast with UNAVAILABLE.
    int max_in_flight = 256;
    // WatchVerifyJob streams open at once; beyond it new watches fail with UNAVAILABLE.
    int max_watch_streams = 4096;
    JobWatchHub::Options watch;
    RpcObserver* observer = nullptr;  // not owned; may be null
  };

  OtaVerifyService(Options options, UpstreamCaller* upstream, HttpTransport* transport,
                   Scheduler* scheduler, const Clock* clock);

  grpc::ServerUnaryReactor* CreateVerifyJob(grpc::CallbackServerContext* context,
                                            const v1::CreateVerifyJobRequest* request,
                                            v1::CreateVerifyJobResponse* response) override;
  grpc::ServerUnaryReactor* GetFirmwareVerification(
      grpc::CallbackServerContext* context, const v1::GetFirmwareVerificationRequest* request,
      v1::FirmwareVerification* response) override;
  grpc::ServerUnaryReactor* GetVerifyJob(grpc::CallbackServerContext* context,
                                         const v1::GetVerifyJobRequest* request,
                                         v1::VerifyJob* response) override;
  grpc::ServerWriteReactor<v1::WatchVerifyJobResponse>* WatchVerifyJob(
      grpc::CallbackServerContext* context, const v1::WatchVerifyJobRequest* request) override;
  grpc::ServerUnaryReactor* CancelVerifyJob(grpc::CallbackServerContext* context,
                                            const v1::CancelVerifyJobRequest* request,
                                            v1::CancelVerifyJobResponse* response) override;

  // Ends every watch stream with UNAVAILABLE (clients watch again, through another replica)
  // and refuses new ones; unary calls are not affected. For the start of a graceful shutdown.
  void Shutdown();

  JobWatchHub::Stats WatchStats() const { return watches_.GetStats(); }
  // Unary calls admitted and not yet answered; watch streams open.
  int InFlight() const { return in_flight_.load(std::memory_order_relaxed); }
  int WatchStreams() const { return watch_streams_.load(std::memory_order_relaxed); }

 private:
  class CallState;
  class Reactor;
  class WatchStream;
  class WatchReactor;
  struct CreateGroup;

  // The profile serving `account`; NOT_FOUND ACCOUNT_NOT_FOUND if none.
  absl::StatusOr<const Profile*> FindProfile(const std::string& account,
                                             absl::string_view action) const;
  // The service-clock time by which the call must be answered.
  absl::Time CallDeadline(const grpc::CallbackServerContext& context, absl::Time start) const;
  // Starts a unary call: validates with `valid`, resolves the profile and admits the call.
  // Returns the profile, or nullptr when the call was finished already.
  const Profile* Begin(Reactor* reactor, CallState& state, const absl::Status& valid,
                       const std::string& account, absl::string_view action);
  // A read's context: the call's deadline, a cancellation the reactor fires on OnCancel.
  ReadContext ReadFor(grpc::CallbackServerContext* context, CallState& state,
                      const Profile* profile, const std::string& iot_instance_id);

  // Sends the group's create; `resent` once it goes again after a reconciliation found none.
  void SendCreate(std::shared_ptr<CreateGroup> group, bool resent);
  void OnCreateResult(std::shared_ptr<CreateGroup> group, bool resent, absl::Time sent_at,
                      UpstreamResult result);
  void Reconcile(std::shared_ptr<CreateGroup> group, bool resent, absl::Time sent_at,
                 absl::Status unknown);
  // return_existing: answers with the firmware's active verify job, or `refused` if none.
  void FindExisting(std::shared_ptr<CreateGroup> group, absl::Status refused);
  // Finishes every call waiting on the group's create.
  void FinishCreate(CreateGroup& group, absl::Status status,
                    const v1::CreateVerifyJobResponse* response);
  // A cancelled call stops waiting; the last one to go aborts the upstream call.
  void Leave(const std::shared_ptr<CallState>& state);

  const Options options_;
  UpstreamCaller* const upstream_;
  HttpTransport* const transport_;
  const Clock* const clock_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> watch_streams_{0};
  JobWatchHub watches_;

  // Creates in flight by account and canonical parameters, each with the calls waiting on it.
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<CreateGroup>> groups_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_

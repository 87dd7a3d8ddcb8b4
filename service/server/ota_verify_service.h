// OtaVerifyService: the gRPC callback service. Each call is validated and handed to the
// UpstreamCaller without blocking a gRPC thread; the upstream's completion finishes the call.
//
// Path of one call: validate → resolve the account's profile → admit (bounded in-flight count)
// → join an identical create already in flight (same account and parameters), or lead one → UpstreamCaller (quota, breaker,
// credentials, signing, retries) → when the outcome is unknown, reconcile (the job the upstream
// created since the attempt, found with ListOTAJobByFirmware, is returned; an unverified
// firmware lets the create be sent again; anything else is UPSTREAM_OUTCOME_UNKNOWN) → Finish.
// A cancelled call (caller gone, deadline passed, server stopping) aborts what it waits on.
// Every response carries x-upstream-request-id (each upstream attempt's id, comma separated)
// and x-gateway-attempts trailers; the access log line carries the same.
//
// Thread-safe. The upstream caller and clock must outlive the service; the server must be shut
// down before they are destroyed.
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
#include "service/server/upstream_caller.h"
#include "service/transport/http_transport.h"

namespace otaverify {

class OtaVerifyService final : public v1::OtaVerify::CallbackService {
 public:
  struct Options {
    // By account name; "default" serves requests whose account is empty.
    absl::flat_hash_map<std::string, Profile> profiles;
    // Budget of a call whose caller set no deadline.
    absl::Duration default_deadline = absl::Seconds(15);
    // Calls waiting on the upstream at once; beyond it calls fail fast with UNAVAILABLE.
    int max_in_flight = 256;
  };

  OtaVerifyService(Options options, UpstreamCaller* upstream, HttpTransport* transport,
                   const Clock* clock);

  grpc::ServerUnaryReactor* CreateVerifyJob(grpc::CallbackServerContext* context,
                                            const v1::CreateVerifyJobRequest* request,
                                            v1::CreateVerifyJobResponse* response) override;

 private:
  class CallState;
  class Reactor;
  struct CreateGroup;

  // Sends the group's create; `resent` once it goes again after a reconciliation found none.
  void SendCreate(std::shared_ptr<CreateGroup> group, bool resent);
  void OnCreateResult(std::shared_ptr<CreateGroup> group, bool resent, absl::Time sent_at,
                      UpstreamResult result);
  void Reconcile(std::shared_ptr<CreateGroup> group, bool resent, absl::Time sent_at,
                 absl::Status unknown);
  // Adds an upstream result's attempts and request ids to the group's record.
  static void Absorb(CreateGroup& group, const UpstreamResult& result);
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

  // Creates in flight by account and canonical parameters, each with the calls waiting on it.
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<CreateGroup>> groups_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_OTA_VERIFY_SERVICE_H_

#include "service/server/ota_verify_service.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "service/aliyun/create_verify_job.h"
#include "service/aliyun/error_mapping.h"
#include "service/aliyun/signer.h"
#include "service/common/log.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

constexpr char kDefaultAccount[] = "default";
// A job created up to this long before the attempt was sent still counts as its result: the
// upstream's clock and ours may disagree a little.
constexpr absl::Duration kReconcileClockSkew = absl::Seconds(10);

std::string Millis(absl::Duration d) {
  return absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(d));
}

}  // namespace

// One gRPC call. Whoever claims it first (the upstream's answer, or a cancellation) finishes it,
// exactly once; the state outlives the reactor, so a late step finds the claim taken.
class OtaVerifyService::CallState {
 public:
  CallState(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
            v1::CreateVerifyJobResponse* response, const Clock* clock, std::string account)
      : context_(context),
        reactor_(reactor),
        response_(response),
        clock_(clock),
        account_(std::move(account)),
        start_(clock->Now()) {}

  absl::Time start() const { return start_; }
  const std::string& account() const { return account_; }

  bool Claim() {
    absl::MutexLock lock(&mu_);
    if (claimed_) return false;
    claimed_ = true;
    return true;
  }

  // REQUIRES: Claim() returned true to this caller.
  v1::CreateVerifyJobResponse* response() { return response_; }

  // REQUIRES: Claim() returned true to this caller. The reactor may be gone right after.
  void Finish(const absl::Status& status, const std::vector<std::string>& request_ids,
              int attempts, const TransferInfo* transfer) {
    const std::string ids = absl::StrJoin(request_ids, ",");
    if (!ids.empty()) context_->AddTrailingMetadata("x-upstream-request-id", ids);
    context_->AddTrailingMetadata("x-gateway-attempts", absl::StrCat(attempts));
    Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning,
        status.ok() ? "ok" : status.message(),
        {{"method", "CreateVerifyJob"},
         {"grpc_code", StatusCodeName(status.code())},
         {"duration_ms", Millis(clock_->Now() - start_)},
         {"account", account_.empty() ? kDefaultAccount : account_},
         {"action", attempts > 0 ? kCreateOTAVerifyJob : ""},
         {"upstream_request_id", ids},
         {"attempt", absl::StrCat(attempts)},
         {"upstream_ms", transfer != nullptr ? Millis(transfer->total_time) : ""},
         {"upstream_http_version", transfer != nullptr ? transfer->http_version : ""},
         {"upstream_new_connection",
          transfer == nullptr ? "" : transfer->new_connection ? "true" : "false"}});
    reactor_->Finish(ToGrpcStatus(status));
  }

  // Finishes the call with `status` unless it is finished already.
  void TryFinish(const absl::Status& status) {
    if (Claim()) Finish(status, {}, 0, nullptr);
  }

  // The create this call waits on (its own, or the one it joined).
  std::string create_key;

 private:
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  v1::CreateVerifyJobResponse* const response_;
  const Clock* const clock_;
  const std::string account_;
  const absl::Time start_;

  absl::Mutex mu_;
  bool claimed_ ABSL_GUARDED_BY(mu_) = false;
};

// One upstream create and what it went through.
struct OtaVerifyService::CreateGroup {
  std::string key;
  std::string product_key;
  std::string firmware_id;
  std::string iot_instance_id;
  RpcCall call;
  const Profile* profile = nullptr;
  // The gRPC calls waiting on this create. Guarded by the service's mu_.
  std::vector<std::shared_ptr<CallState>> members;
  absl::Time deadline;
  std::shared_ptr<CallCancellation> cancellation;
  std::vector<std::string> request_ids;  // of every attempt, reconciliation included
  int attempts = 0;
  TransferInfo transfer;
};

// The gRPC side of one call: forwards cancellation, releases the in-flight place, deletes
// itself.
class OtaVerifyService::Reactor : public grpc::ServerUnaryReactor {
 public:
  explicit Reactor(OtaVerifyService* service) : service_(service) {}

  void Bind(std::shared_ptr<CallState> state) { state_ = std::move(state); }

  // Takes one of the service's in-flight places until OnDone; false if none is free.
  bool Admit() {
    if (service_->in_flight_.fetch_add(1, std::memory_order_relaxed) >=
        service_->options_.max_in_flight) {
      service_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    admitted_ = true;
    return true;
  }

  void OnCancel() override {
    state_->TryFinish(
        GatewayError(absl::StatusCode::kCancelled, "call cancelled", "CALL_CANCELLED", ""));
    service_->Leave(state_);
  }

  void OnDone() override {
    if (admitted_) service_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
    delete this;
  }

 private:
  OtaVerifyService* const service_;
  std::shared_ptr<CallState> state_;
  bool admitted_ = false;
};

OtaVerifyService::OtaVerifyService(Options options, UpstreamCaller* upstream,
                                   HttpTransport* transport, const Clock* clock)
    : options_(std::move(options)), upstream_(upstream), transport_(transport), clock_(clock) {}

grpc::ServerUnaryReactor* OtaVerifyService::CreateVerifyJob(
    grpc::CallbackServerContext* context, const v1::CreateVerifyJobRequest* request,
    v1::CreateVerifyJobResponse* response) {
  auto* reactor = new Reactor(this);
  auto state =
      std::make_shared<CallState>(context, reactor, response, clock_, request->account());
  reactor->Bind(state);

  if (absl::Status valid = ValidateCreateVerifyJob(*request); !valid.ok()) {
    state->TryFinish(valid);
    return reactor;
  }
  auto profile = options_.profiles.find(request->account().empty() ? kDefaultAccount
                                                                   : request->account());
  if (profile == options_.profiles.end()) {
    // Names only what the caller asked for, never the configured profiles.
    state->TryFinish(GatewayError(
        absl::StatusCode::kNotFound,
        absl::StrCat("account \"", request->account(), "\" is not configured"),
        "ACCOUNT_NOT_FOUND", kCreateOTAVerifyJob));
    return reactor;
  }
  if (!reactor->Admit()) {
    absl::Status overloaded =
        GatewayError(absl::StatusCode::kUnavailable,
                     absl::StrCat("the gateway has ", options_.max_in_flight,
                                  " calls waiting on the upstream; try again shortly"),
                     "GATEWAY_OVERLOADED", kCreateOTAVerifyJob);
    AddRetryInfo(overloaded, absl::Seconds(1));
    state->TryFinish(overloaded);
    return reactor;
  }

  // A second identical create could only be refused (one verify job per firmware), so
  // concurrent identical creates share the first one's upstream call and its answer.
  RpcCall call = CreateVerifyJobCall(*request);
  std::string iot_instance_id = request->iot_instance_id();
  if (iot_instance_id.empty() && !profile->second.iot_instance_id.empty()) {
    iot_instance_id = profile->second.iot_instance_id;
    call.params.emplace_back("IotInstanceId", iot_instance_id);
  }
  state->create_key = absl::StrCat(profile->first, "\n", CanonicalQuery(call.params));
  std::shared_ptr<CreateGroup> group;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<CreateGroup>& existing = groups_[state->create_key];
    if (existing != nullptr) {
      existing->members.push_back(state);
      return reactor;  // joined a create in flight
    }
    existing = std::make_shared<CreateGroup>();
    group = existing;
    group->members.push_back(state);
  }
  group->key = state->create_key;
  group->profile = &profile->second;
  group->call = std::move(call);
  group->firmware_id = request->firmware_id();
  group->product_key = request->product_key();
  group->iot_instance_id = std::move(iot_instance_id);
  group->deadline = state->start() + options_.default_deadline;
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    // gRPC deadlines are wall-clock; carry the time left into the service clock's frame.
    group->deadline =
        state->start() + (absl::FromChrono(context->deadline()) - absl::Now());
  }
  group->cancellation = std::make_shared<CallCancellation>(transport_);
  SendCreate(group, /*resent=*/false);
  return reactor;
}

void OtaVerifyService::SendCreate(std::shared_ptr<CreateGroup> group, bool resent) {
  UpstreamRequest request;
  request.call = group->call;
  request.profile = group->profile;
  request.deadline = group->deadline;
  request.idempotent = false;
  request.cancellation = group->cancellation;
  const absl::Time sent_at = clock_->Now();
  upstream_->Execute(std::move(request),
                     [this, group, resent, sent_at](UpstreamResult result) mutable {
                       OnCreateResult(std::move(group), resent, sent_at, std::move(result));
                     });
}

void OtaVerifyService::OnCreateResult(std::shared_ptr<CreateGroup> group, bool resent,
                                      absl::Time sent_at, UpstreamResult result) {
  Absorb(*group, result);
  if (result.outcome_unknown && !group->cancellation->cancelled()) {
    return Reconcile(std::move(group), resent, sent_at, std::move(result.status));
  }
  if (!result.status.ok()) return FinishCreate(*group, result.status, nullptr);
  absl::StatusOr<v1::CreateVerifyJobResponse> parsed = ParseCreateVerifyJobResponse(result.body);
  if (!parsed.ok()) {
    // The upstream said yes in a shape we cannot read: the job may well exist.
    return Reconcile(
        std::move(group), resent, sent_at,
        GatewayError(absl::StatusCode::kUnknown,
                     absl::StrCat(parsed.status().message(),
                                  " (the job may exist: check before retrying)"),
                     "UPSTREAM_MALFORMED_RESPONSE", kCreateOTAVerifyJob));
  }
  FinishCreate(*group, absl::OkStatus(), &*parsed);
}

// The create may or may not have happened. The upstream has no client token, so read its state
// back: a verify job for the firmware created since the attempt is the one we created; a
// firmware still unverified means nothing was created, and the create may go once more.
void OtaVerifyService::Reconcile(std::shared_ptr<CreateGroup> group, bool resent,
                                 absl::Time sent_at, absl::Status unknown) {
  const std::string iot_instance_id = group->iot_instance_id;
  const std::string firmware_id = group->firmware_id;
  UpstreamRequest list;
  list.call = ListVerifyJobsCall(firmware_id, iot_instance_id);
  list.profile = group->profile;
  list.deadline = group->deadline;
  list.idempotent = true;
  list.cancellation = group->cancellation;
  upstream_->Execute(std::move(list), [this, group, resent, sent_at, iot_instance_id, firmware_id,
                                       unknown](UpstreamResult listed) mutable {
    Absorb(*group, listed);
    if (!listed.status.ok()) return FinishCreate(*group, unknown, nullptr);
    absl::StatusOr<absl::optional<v1::CreateVerifyJobResponse>> found =
        FindVerifyJobCreatedSince(listed.body, sent_at - kReconcileClockSkew);
    if (!found.ok()) return FinishCreate(*group, unknown, nullptr);
    if (found->has_value()) {
      Log(LogLevel::kInfo, "create outcome reconciled: the job exists",
          {{"job_id", (*found)->job_id()}, {"firmware_id", firmware_id}});
      return FinishCreate(*group, absl::OkStatus(), &**found);
    }
    if (resent) return FinishCreate(*group, unknown, nullptr);
    UpstreamRequest query;
    query.call = QueryFirmwareCall(firmware_id, iot_instance_id);
    query.profile = group->profile;
    query.deadline = group->deadline;
    query.idempotent = true;
    query.cancellation = group->cancellation;
    upstream_->Execute(std::move(query),
                       [this, group, unknown](UpstreamResult queried) mutable {
                         Absorb(*group, queried);
                         absl::StatusOr<int> status =
                             queried.status.ok() ? ParseFirmwareVerifyStatus(queried.body)
                                                 : absl::StatusOr<int>(queried.status);
                         if (status.ok() && *status == 0) {
                           Log(LogLevel::kInfo,
                               "create outcome reconciled: no job was created; sending again",
                               {{"request_ids", absl::StrJoin(group->request_ids, ",")}});
                           return SendCreate(std::move(group), /*resent=*/true);
                         }
                         FinishCreate(*group, unknown, nullptr);
                       });
  });
}

void OtaVerifyService::Absorb(CreateGroup& group, const UpstreamResult& result) {
  group.request_ids.insert(group.request_ids.end(), result.request_ids.begin(),
                           result.request_ids.end());
  group.attempts += result.attempts;
  if (!result.transfer.http_version.empty()) group.transfer = result.transfer;
}

void OtaVerifyService::FinishCreate(CreateGroup& group, absl::Status status,
                                    const v1::CreateVerifyJobResponse* response) {
  AddCreateErrorDetails(status, group.product_key, group.firmware_id, group.iot_instance_id);
  std::vector<std::shared_ptr<CallState>> members;
  {
    absl::MutexLock lock(&mu_);
    members.swap(group.members);
    // Only this group: a newer create for the same key may be in flight by now.
    auto it = groups_.find(group.key);
    if (it != groups_.end() && it->second.get() == &group) groups_.erase(it);
  }
  for (const auto& member : members) {
    if (!member->Claim()) continue;  // cancelled meanwhile
    if (response != nullptr) *member->response() = *response;
    member->Finish(status, group.request_ids, group.attempts, &group.transfer);
  }
}

void OtaVerifyService::Leave(const std::shared_ptr<CallState>& state) {
  std::shared_ptr<CreateGroup> abandoned;
  {
    absl::MutexLock lock(&mu_);
    auto it = groups_.find(state->create_key);
    if (it == groups_.end()) return;
    std::shared_ptr<CreateGroup> group = it->second;
    auto& members = group->members;
    const auto member = std::find(members.begin(), members.end(), state);
    if (member == members.end()) return;  // it waits on an older create, already finished
    members.erase(member);
    if (!members.empty()) return;
    // Nobody waits for this create any more: abort what it waits on.
    groups_.erase(it);
    abandoned = std::move(group);
  }
  abandoned->cancellation->Cancel();
}

}  // namespace otaverify

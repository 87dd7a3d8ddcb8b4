#include "service/server/ota_verify_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"
#include "service/aliyun/create_verify_job.h"
#include "service/aliyun/error_mapping.h"
#include "service/aliyun/signer.h"
#include "service/aliyun/verify_workflow.h"
#include "service/common/log.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

constexpr char kDefaultAccount[] = "default";
// A job created up to this long before the attempt was sent still counts as its result: the
// upstream's clock and ours may disagree a little.
constexpr absl::Duration kReconcileClockSkew = absl::Seconds(10);

// A call turned away because the gateway holds `what` already (a bounded queue, never an
// unbounded one): UNAVAILABLE GATEWAY_OVERLOADED, to be tried again shortly.
absl::Status Overloaded(absl::string_view what, absl::string_view action) {
  absl::Status overloaded =
      GatewayError(absl::StatusCode::kUnavailable,
                   absl::StrCat("the gateway has ", what, " already; try again shortly"),
                   "GATEWAY_OVERLOADED", action);
  AddRetryInfo(overloaded, absl::Seconds(1));
  return overloaded;
}

std::string Millis(absl::Duration d) {
  return absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(d));
}

}  // namespace

// One unary gRPC call. Whoever claims it first (the upstream's answer, or a cancellation)
// finishes it, exactly once; the state outlives the reactor, so a late step finds the claim
// taken.
class OtaVerifyService::CallState {
 public:
  CallState(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
            google::protobuf::Message* response, const Clock* clock, RpcObserver* observer,
            absl::string_view method, std::string account)
      : context_(context),
        reactor_(reactor),
        response_(response),
        clock_(clock),
        observer_(observer),
        method_(method),
        account_(std::move(account)),
        start_(clock->Now()) {}

  absl::Time start() const { return start_; }

  bool Claim() {
    absl::MutexLock lock(&mu_);
    if (claimed_) return false;
    claimed_ = true;
    return true;
  }

  // REQUIRES: Claim() returned true to this caller.
  template <typename Response>
  Response* response() {
    return static_cast<Response*>(response_);
  }

  // REQUIRES: Claim() returned true to this caller, who holds a reference to this state and no
  // lock. The reactor may be gone as soon as reactor_->Finish is called (its OnDone may run on
  // this very thread, inside that call): nothing here touches it afterwards.
  void Finish(const absl::Status& status, const UpstreamTrace& trace) {
    const std::string ids = absl::StrJoin(trace.request_ids, ",");
    if (!ids.empty()) context_->AddTrailingMetadata("x-upstream-request-id", ids);
    context_->AddTrailingMetadata("x-gateway-attempts", absl::StrCat(trace.attempts));
    const bool sent = !trace.transfer.http_version.empty();
    Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning, status.ok() ? "ok" : status.message(),
        {{"method", std::string(method_)},
         {"grpc_code", StatusCodeName(status.code())},
         {"duration_ms", Millis(clock_->Now() - start_)},
         {"account", account_.empty() ? kDefaultAccount : account_},
         {"action", absl::StrJoin(trace.actions, ",")},
         {"upstream_request_id", ids},
         {"attempt", absl::StrCat(trace.attempts)},
         {"upstream_ms", sent ? Millis(trace.transfer.total_time) : ""},
         {"upstream_http_version", trace.transfer.http_version},
         {"upstream_new_connection", !sent                           ? ""
                                     : trace.transfer.new_connection ? "true"
                                                                     : "false"}});
    if (observer_ != nullptr) observer_->OnRpcDone(method_, status.code(), clock_->Now() - start_);
    reactor_->Finish(ToGrpcStatus(status));
  }

  // Finishes the call with `status` unless it is finished already.
  void TryFinish(const absl::Status& status) {
    if (Claim()) Finish(status, UpstreamTrace());
  }

  // Finishes the call with a read's outcome: the response when OK, else the error with the
  // details naming what the request referred to.
  template <typename Response>
  void FinishRead(absl::StatusOr<Response> result, const UpstreamTrace& trace,
                  const ResourceNames& names) {
    if (!Claim()) return;  // cancelled meanwhile
    if (!result.ok()) {
      absl::Status status = result.status();
      AddResourceDetails(status, names);
      return Finish(status, trace);
    }
    *response<Response>() = *std::move(result);
    Finish(absl::OkStatus(), trace);
  }

  // The create this call waits on (its own, or the one it joined); empty for other methods.
  std::string create_key;
  // What a read or cancel waits on; the reactor fires it when the call is cancelled.
  std::shared_ptr<CallCancellation> cancellation;

 private:
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  google::protobuf::Message* const response_;
  const Clock* const clock_;
  RpcObserver* const observer_;
  const absl::string_view method_;
  const std::string account_;
  const absl::Time start_;

  absl::Mutex mu_;
  bool claimed_ ABSL_GUARDED_BY(mu_) = false;
};

// One upstream create and what it went through.
struct OtaVerifyService::CreateGroup {
  std::string key;
  ResourceNames names;
  bool return_existing = false;
  RpcCall call;
  const Profile* profile = nullptr;
  // The gRPC calls waiting on this create. Guarded by the service's mu_.
  std::vector<std::shared_ptr<CallState>> members;
  absl::Time deadline;
  std::shared_ptr<CallCancellation> cancellation;
  UpstreamTrace trace;  // every attempt, reconciliation included

  ReadContext Reads(UpstreamCaller* upstream) const {
    return ReadContext{upstream, profile, names.iot_instance_id, deadline, cancellation};
  }
};

// The gRPC side of one unary call: forwards cancellation, releases the in-flight place,
// deletes itself.
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

  // Stops the upstream work, then answers; the Finish comes last and nothing here touches the
  // reactor after it.
  void OnCancel() override {
    const std::shared_ptr<CallState> state = state_;
    if (!state->create_key.empty()) service_->Leave(state);
    if (state->cancellation != nullptr) state->cancellation->Cancel();
    state->TryFinish(
        GatewayError(absl::StatusCode::kCancelled, "call cancelled", "CALL_CANCELLED", ""));
  }

  void OnDone() override {
    if (admitted_) service_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
    delete this;
  }

  // Lets gRPC run OnDone and OnCancel on the thread that completed the call or noticed the
  // cancellation (a gRPC callback thread, or the thread calling Finish) instead of handing each
  // to its executor: one thread wake-up less per call, about a tenth of the gateway's CPU under
  // load. Both reactions qualify: they hold no lock while calling into gRPC or the transport,
  // and block on nothing but short critical sections (and, like every call's access line, the
  // log's write). gRPC calls OnCancel only while it still holds the call, so OnDone can never
  // run inside the Finish that OnCancel makes.
  bool InternalInlineable() override { return true; }

 private:
  OtaVerifyService* const service_;
  std::shared_ptr<CallState> state_;
  bool admitted_ = false;
};

// One watcher: turns the hub's events into stream writes, one at a time. While a write is in
// flight, newer job snapshots replace older unsent ones (a slow reader gets the latest state,
// not a backlog); the end is sent after what is queued. What to do is decided under the lock;
// the gRPC calls are made after it is released, and the `writing_` / `finished_` flags keep
// them in order (no write starts after Finish; Finish waits for the write in flight).
class OtaVerifyService::WatchStream : public JobWatcher {
 public:
  explicit WatchStream(grpc::ServerWriteReactor<v1::WatchVerifyJobResponse>* reactor)
      : reactor_(reactor) {}

  void OnJob(const v1::VerifyJob& job, int64_t version) override {
    v1::WatchVerifyJobResponse event;
    *event.mutable_job() = job;
    Act act;
    {
      absl::MutexLock lock(&mu_);
      if (version <= last_version_) return;  // an older delivery that lost the race
      last_version_ = version;
      act = QueueLocked(std::move(event));
    }
    Do(act);
  }

  void OnPollFailed(const absl::Status& status) override {
    v1::WatchVerifyJobResponse event;
    *event.mutable_upstream_error() = ToRpcStatus(status);
    Act act;
    {
      absl::MutexLock lock(&mu_);
      act = QueueLocked(std::move(event));
    }
    Do(act);
  }

  void OnEnd(const absl::Status& status) override {
    Act act;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || end_.has_value()) return;
      end_ = status;
      act = NextLocked();
    }
    Do(act);
  }

  // The reactor's OnWriteDone.
  void WriteDone(bool ok) {
    Act act;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) pending_.clear();  // the stream is broken; OnCancel follows
      act = NextLocked();
    }
    Do(act);
  }

  // The reactor's OnCancel: the caller is gone or its deadline passed. Ends the stream once
  // the write in flight (if any) is done.
  void Cancel() {
    Act act;
    {
      absl::MutexLock lock(&mu_);
      pending_.clear();
      if (!end_.has_value()) {
        end_ = GatewayError(absl::StatusCode::kCancelled, "watch cancelled", "CALL_CANCELLED",
                            kQueryOTAJob);
      }
      act = NextLocked();
    }
    Do(act);
  }

  // How the stream ended, for the access log and metrics; CANCELLED until it has.
  absl::StatusCode EndStatusCode() {
    absl::MutexLock lock(&mu_);
    return end_.has_value() ? end_->code() : absl::StatusCode::kCancelled;
  }
  // Messages written.
  int64_t writes() {
    absl::MutexLock lock(&mu_);
    return writes_;
  }

 private:
  enum class Act { kNothing, kWrite, kFinish };

  Act QueueLocked(v1::WatchVerifyJobResponse event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || end_.has_value()) return Act::kNothing;
    if (event.has_job() && !pending_.empty() && pending_.back().has_job()) {
      pending_.back() = std::move(event);
    } else {
      pending_.push_back(std::move(event));
    }
    return NextLocked();
  }

  // What comes next when nothing is being written: the next message, else the end.
  Act NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return Act::kNothing;
    if (!pending_.empty()) {
      writing_ = true;
      ++writes_;
      in_flight_ = std::move(pending_.front());
      pending_.pop_front();
      return Act::kWrite;
    }
    if (!end_.has_value()) return Act::kNothing;
    finished_ = true;
    return Act::kFinish;
  }

  // Only the thread that set writing_ or finished_ gets here with kWrite or kFinish, and
  // in_flight_ and end_ do not change until the write is done or for good.
  void Do(Act act) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (act == Act::kWrite) reactor_->StartWrite(&in_flight_);
    if (act == Act::kFinish) reactor_->Finish(ToGrpcStatus(*end_));
  }

  grpc::ServerWriteReactor<v1::WatchVerifyJobResponse>* const reactor_;
  absl::Mutex mu_;
  std::deque<v1::WatchVerifyJobResponse> pending_ ABSL_GUARDED_BY(mu_);
  v1::WatchVerifyJobResponse in_flight_ ABSL_GUARDED_BY(mu_);  // must live until WriteDone
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  int64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class OtaVerifyService::WatchReactor : public grpc::ServerWriteReactor<v1::WatchVerifyJobResponse> {
 public:
  WatchReactor(OtaVerifyService* service, const v1::WatchVerifyJobRequest& request,
               const Clock* clock)
      : service_(service),
        stream_(std::make_shared<WatchStream>(this)),
        account_(request.account().empty() ? kDefaultAccount : request.account()),
        job_id_(request.job_id()),
        clock_(clock),
        start_(clock->Now()) {}

  const std::shared_ptr<WatchStream>& stream() const { return stream_; }

  // Takes one of the service's watch places until OnDone; false if none is free.
  bool Admit() {
    if (service_->watch_streams_.fetch_add(1, std::memory_order_relaxed) >=
        service_->options_.max_watch_streams) {
      service_->watch_streams_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    admitted_ = true;
    return true;
  }

  void OnWriteDone(bool ok) override { stream_->WriteDone(ok); }

  void OnCancel() override {
    service_->watches_.Unwatch(stream_);
    stream_->Cancel();
  }

  // The stream finished before gRPC calls this, so the hub's late deliveries find it finished
  // and never touch the reactor.
  void OnDone() override {
    if (service_->options_.observer != nullptr) {
      service_->options_.observer->OnRpcDone("WatchVerifyJob", stream_->EndStatusCode(),
                                             clock_->Now() - start_);
    }
    if (admitted_) {
      service_->watches_.Unwatch(stream_);
      service_->watch_streams_.fetch_sub(1, std::memory_order_relaxed);
    }
    Log(LogLevel::kInfo, "watch ended",
        {{"method", "WatchVerifyJob"},
         {"grpc_code", StatusCodeName(stream_->EndStatusCode())},
         {"duration_ms", Millis(clock_->Now() - start_)},
         {"account", account_},
         {"job_id", job_id_},
         {"messages", absl::StrCat(stream_->writes())}});
    delete this;
  }

 private:
  OtaVerifyService* const service_;
  const std::shared_ptr<WatchStream> stream_;
  const std::string account_;
  const std::string job_id_;
  const Clock* const clock_;
  const absl::Time start_;
  bool admitted_ = false;
};

OtaVerifyService::OtaVerifyService(Options options, UpstreamCaller* upstream,
                                   HttpTransport* transport, Scheduler* scheduler,
                                   const Clock* clock)
    : options_(std::move(options)),
      upstream_(upstream),
      transport_(transport),
      clock_(clock),
      watches_(options_.watch, upstream, transport, scheduler, clock) {}

void OtaVerifyService::Shutdown() {
  absl::Status status =
      GatewayError(absl::StatusCode::kUnavailable, "the gateway is shutting down; watch again",
                   "GATEWAY_SHUTTING_DOWN", kQueryOTAJob);
  AddRetryInfo(status, absl::Milliseconds(100));
  watches_.Shutdown(status);
}

absl::StatusOr<const Profile*> OtaVerifyService::FindProfile(const std::string& account,
                                                             absl::string_view action) const {
  auto profile = options_.profiles.find(account.empty() ? kDefaultAccount : account);
  if (profile == options_.profiles.end()) {
    // Names only what the caller asked for, never the configured profiles.
    return GatewayError(absl::StatusCode::kNotFound,
                        absl::StrCat("account \"", account, "\" is not configured"),
                        "ACCOUNT_NOT_FOUND", action);
  }
  return &profile->second;
}

absl::Time OtaVerifyService::CallDeadline(const grpc::CallbackServerContext& context,
                                          absl::Time start) const {
  if (context.deadline() == std::chrono::system_clock::time_point::max()) {
    return start + options_.default_deadline;
  }
  // gRPC deadlines are wall-clock; carry the time left into the service clock's frame.
  return start + (absl::FromChrono(context.deadline()) - absl::Now());
}

const Profile* OtaVerifyService::Begin(Reactor* reactor, CallState& state,
                                       const absl::Status& valid, const std::string& account,
                                       absl::string_view action) {
  if (!valid.ok()) {
    state.TryFinish(valid);
    return nullptr;
  }
  absl::StatusOr<const Profile*> profile = FindProfile(account, action);
  if (!profile.ok()) {
    state.TryFinish(profile.status());
    return nullptr;
  }
  if (!reactor->Admit()) {
    state.TryFinish(
        Overloaded(absl::StrCat(options_.max_in_flight, " calls waiting on the upstream"), action));
    return nullptr;
  }
  return *profile;
}

ReadContext OtaVerifyService::ReadFor(grpc::CallbackServerContext* context, CallState& state,
                                      const Profile* profile, const std::string& iot_instance_id) {
  state.cancellation = std::make_shared<CallCancellation>(transport_);
  ReadContext read;
  read.upstream = upstream_;
  read.profile = profile;
  read.iot_instance_id = iot_instance_id.empty() ? profile->iot_instance_id : iot_instance_id;
  read.deadline = CallDeadline(*context, state.start());
  read.cancellation = state.cancellation;
  return read;
}

grpc::ServerUnaryReactor* OtaVerifyService::CreateVerifyJob(
    grpc::CallbackServerContext* context, const v1::CreateVerifyJobRequest* request,
    v1::CreateVerifyJobResponse* response) {
  auto* reactor = new Reactor(this);
  auto state = std::make_shared<CallState>(context, reactor, response, clock_, options_.observer,
                                           "CreateVerifyJob", request->account());
  reactor->Bind(state);
  const Profile* profile = Begin(reactor, *state, ValidateCreateVerifyJob(*request),
                                 request->account(), kCreateOTAVerifyJob);
  if (profile == nullptr) return reactor;

  // A second identical create could only be refused (one verify job per firmware), so
  // concurrent identical creates share the first one's upstream call and its answer.
  RpcCall call = CreateVerifyJobCall(*request);
  std::string iot_instance_id = request->iot_instance_id();
  if (iot_instance_id.empty() && !profile->iot_instance_id.empty()) {
    iot_instance_id = profile->iot_instance_id;
    call.params.emplace_back("IotInstanceId", iot_instance_id);
  }
  state->create_key = absl::StrCat(profile->name, "\n", CanonicalQuery(call.params),
                                   request->return_existing() ? "\nreturn_existing" : "");
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
  group->profile = profile;
  group->call = std::move(call);
  group->names.firmware_id = request->firmware_id();
  group->names.product_key = request->product_key();
  group->names.iot_instance_id = std::move(iot_instance_id);
  group->return_existing = request->return_existing();
  group->deadline = CallDeadline(*context, state->start());
  group->cancellation = std::make_shared<CallCancellation>(transport_);
  SendCreate(group, /*resent=*/false);
  return reactor;
}

grpc::ServerUnaryReactor* OtaVerifyService::GetFirmwareVerification(
    grpc::CallbackServerContext* context, const v1::GetFirmwareVerificationRequest* request,
    v1::FirmwareVerification* response) {
  auto* reactor = new Reactor(this);
  auto state = std::make_shared<CallState>(context, reactor, response, clock_, options_.observer,
                                           "GetFirmwareVerification", request->account());
  reactor->Bind(state);
  const Profile* profile = Begin(reactor, *state, ValidateGetFirmwareVerification(*request),
                                 request->account(), kQueryOTAFirmware);
  if (profile == nullptr) return reactor;
  ReadContext read = ReadFor(context, *state, profile, request->iot_instance_id());
  ResourceNames names;
  names.firmware_id = request->firmware_id();
  names.iot_instance_id = read.iot_instance_id;
  ReadFirmwareVerification(
      std::move(read), request->firmware_id(),
      [state, names](absl::StatusOr<v1::FirmwareVerification> result, UpstreamTrace trace) {
        state->FinishRead(std::move(result), trace, names);
      });
  return reactor;
}

grpc::ServerUnaryReactor* OtaVerifyService::GetVerifyJob(grpc::CallbackServerContext* context,
                                                         const v1::GetVerifyJobRequest* request,
                                                         v1::VerifyJob* response) {
  auto* reactor = new Reactor(this);
  auto state = std::make_shared<CallState>(context, reactor, response, clock_, options_.observer,
                                           "GetVerifyJob", request->account());
  reactor->Bind(state);
  const Profile* profile =
      Begin(reactor, *state,
            ValidateJobReference(request->job_id(), request->iot_instance_id(), kQueryOTAJob),
            request->account(), kQueryOTAJob);
  if (profile == nullptr) return reactor;
  ReadContext read = ReadFor(context, *state, profile, request->iot_instance_id());
  ResourceNames names;
  names.job_id = request->job_id();
  names.iot_instance_id = read.iot_instance_id;
  ReadVerifyJob(std::move(read), request->job_id(),
                [state, names](absl::StatusOr<v1::VerifyJob> result, UpstreamTrace trace) {
                  state->FinishRead(std::move(result), trace, names);
                });
  return reactor;
}

grpc::ServerUnaryReactor* OtaVerifyService::CancelVerifyJob(
    grpc::CallbackServerContext* context, const v1::CancelVerifyJobRequest* request,
    v1::CancelVerifyJobResponse* response) {
  auto* reactor = new Reactor(this);
  auto state = std::make_shared<CallState>(context, reactor, response, clock_, options_.observer,
                                           "CancelVerifyJob", request->account());
  reactor->Bind(state);
  const Profile* profile = Begin(reactor, *state, ValidateCancelVerifyJob(*request),
                                 request->account(), kCancelOTATaskByJob);
  if (profile == nullptr) return reactor;
  ReadContext read = ReadFor(context, *state, profile, request->iot_instance_id());
  const std::vector<v1::TaskState> states = StatesToCancel(*request);
  ResourceNames names;
  names.job_id = request->job_id();
  names.iot_instance_id = read.iot_instance_id;
  // The upstream cancels any job by id: make sure this one is a verify job first, so a typo
  // can never stop a fleet upgrade.
  ReadContext check = read;
  ReadJobHeader(
      std::move(check), request->job_id(),
      [this, state, states, names, read, job_id = request->job_id()](
          absl::StatusOr<v1::VerifyJob> job, UpstreamTrace checked) mutable {
        if (!job.ok()) {
          return state->FinishRead(absl::StatusOr<v1::CancelVerifyJobResponse>(job.status()),
                                   checked, names);
        }
        UpstreamRequest cancel;
        cancel.call = CancelTasksCall(job_id, read.iot_instance_id, states);
        cancel.profile = read.profile;
        cancel.deadline = read.deadline;
        // Cancelling twice cancels nothing more: retried like a read.
        cancel.idempotent = true;
        cancel.cancellation = read.cancellation;
        upstream_->Execute(std::move(cancel), [state, states, names, trace = std::move(checked)](
                                                  UpstreamResult result) mutable {
          trace.Add(kCancelOTATaskByJob, result);
          if (!result.status.ok()) {
            return state->FinishRead(absl::StatusOr<v1::CancelVerifyJobResponse>(result.status),
                                     trace, names);
          }
          v1::CancelVerifyJobResponse canceled;
          for (v1::TaskState s : states) canceled.add_canceled_states(s);
          if (!result.request_ids.empty()) {
            canceled.set_upstream_request_id(result.request_ids.back());
          }
          state->FinishRead(absl::StatusOr<v1::CancelVerifyJobResponse>(std::move(canceled)), trace,
                            names);
        });
      });
  return reactor;
}

grpc::ServerWriteReactor<v1::WatchVerifyJobResponse>* OtaVerifyService::WatchVerifyJob(
    grpc::CallbackServerContext* /*context*/, const v1::WatchVerifyJobRequest* request) {
  auto* reactor = new WatchReactor(this, *request, clock_);
  const std::shared_ptr<WatchStream>& stream = reactor->stream();
  absl::Status valid =
      ValidateJobReference(request->job_id(), request->iot_instance_id(), kQueryOTAJob);
  if (!valid.ok()) {
    stream->OnEnd(valid);
    return reactor;
  }
  absl::StatusOr<const Profile*> profile = FindProfile(request->account(), kQueryOTAJob);
  if (!profile.ok()) {
    stream->OnEnd(profile.status());
    return reactor;
  }
  if (!reactor->Admit()) {
    stream->OnEnd(
        Overloaded(absl::StrCat(options_.max_watch_streams, " watch streams open"), kQueryOTAJob));
    return reactor;
  }
  const std::string& instance =
      request->iot_instance_id().empty() ? (*profile)->iot_instance_id : request->iot_instance_id();
  watches_.Watch(*profile, instance, request->job_id(), stream);
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
  group->trace.Add(kCreateOTAVerifyJob, result);
  if (result.outcome_unknown && !group->cancellation->cancelled()) {
    return Reconcile(std::move(group), resent, sent_at, std::move(result.status));
  }
  if (!result.status.ok()) {
    const absl::optional<google::rpc::ErrorInfo> info =
        GetDetail<google::rpc::ErrorInfo>(result.status);
    if (group->return_existing && info.has_value() &&
        info->reason() == "FIRMWARE_ALREADY_VERIFYING") {
      return FindExisting(std::move(group), std::move(result.status));
    }
    return FinishCreate(*group, result.status, nullptr);
  }
  absl::StatusOr<v1::CreateVerifyJobResponse> parsed = ParseCreateVerifyJobResponse(result.body);
  if (!parsed.ok()) {
    // The upstream said yes in a shape we cannot read: the job may well exist.
    return Reconcile(std::move(group), resent, sent_at,
                     GatewayError(absl::StatusCode::kUnknown,
                                  absl::StrCat(parsed.status().message(),
                                               " (the job may exist: check before retrying)"),
                                  "UPSTREAM_MALFORMED_RESPONSE", kCreateOTAVerifyJob));
  }
  FinishCreate(*group, absl::OkStatus(), &*parsed);
}

namespace {

v1::CreateVerifyJobResponse JobFound(const FirmwareJob& job) {
  v1::CreateVerifyJobResponse response;
  response.set_job_id(job.job_id);
  if (job.create_time != absl::InfinitePast()) {
    const absl::Duration since_epoch = job.create_time - absl::UnixEpoch();
    response.mutable_create_time()->set_seconds(absl::ToInt64Seconds(since_epoch));
    response.mutable_create_time()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(absl::ToInt64Seconds(since_epoch)))));
  }
  response.set_upstream_request_id(job.request_id);
  return response;
}

}  // namespace

// The create may or may not have happened. The upstream has no client token, so read its state
// back: a verify job for the firmware created since the attempt is the one we created; a
// firmware still unverified means nothing was created, and the create may go once more.
void OtaVerifyService::Reconcile(std::shared_ptr<CreateGroup> group, bool resent,
                                 absl::Time sent_at, absl::Status unknown) {
  ReadFirmwareJobs(
      group->Reads(upstream_), group->names.firmware_id,
      [this, group, resent, sent_at, unknown](absl::StatusOr<std::vector<FirmwareJob>> jobs,
                                              UpstreamTrace trace) mutable {
        group->trace.Add(trace);
        if (!jobs.ok()) return FinishCreate(*group, unknown, nullptr);
        absl::optional<FirmwareJob> found = NewestVerifyJob(*jobs, sent_at - kReconcileClockSkew);
        if (found.has_value()) {
          Log(LogLevel::kInfo, "create outcome reconciled: the job exists",
              {{"job_id", found->job_id}, {"firmware_id", group->names.firmware_id}});
          const v1::CreateVerifyJobResponse response = JobFound(*found);
          return FinishCreate(*group, absl::OkStatus(), &response);
        }
        if (resent) return FinishCreate(*group, unknown, nullptr);
        UpstreamRequest query;
        query.call = QueryFirmwareCall(group->names.firmware_id, group->names.iot_instance_id);
        query.profile = group->profile;
        query.deadline = group->deadline;
        query.idempotent = true;
        query.cancellation = group->cancellation;
        upstream_->Execute(
            std::move(query), [this, group, unknown](UpstreamResult queried) mutable {
              group->trace.Add(kQueryOTAFirmware, queried);
              absl::StatusOr<v1::FirmwareVerification> firmware =
                  queried.status.ok() ? ParseFirmwareVerification(queried.body)
                                      : absl::StatusOr<v1::FirmwareVerification>(queried.status);
              if (firmware.ok() && firmware->state() == v1::VERIFICATION_STATE_UNVERIFIED) {
                Log(LogLevel::kInfo, "create outcome reconciled: no job was created; sending again",
                    {{"request_ids", absl::StrJoin(group->trace.request_ids, ",")}});
                return SendCreate(std::move(group), /*resent=*/true);
              }
              FinishCreate(*group, unknown, nullptr);
            });
      });
}

void OtaVerifyService::FindExisting(std::shared_ptr<CreateGroup> group, absl::Status refused) {
  ReadFirmwareJobs(group->Reads(upstream_), group->names.firmware_id,
                   [this, group, refused](absl::StatusOr<std::vector<FirmwareJob>> jobs,
                                          UpstreamTrace trace) mutable {
                     group->trace.Add(trace);
                     absl::optional<FirmwareJob> active;
                     if (jobs.ok()) active = ActiveVerifyJob(*jobs);
                     // The job may have ended in between: then the refusal stands.
                     if (!active.has_value()) return FinishCreate(*group, refused, nullptr);
                     v1::CreateVerifyJobResponse response = JobFound(*active);
                     response.set_already_existed(true);
                     FinishCreate(*group, absl::OkStatus(), &response);
                   });
}

void OtaVerifyService::FinishCreate(CreateGroup& group, absl::Status status,
                                    const v1::CreateVerifyJobResponse* response) {
  AddResourceDetails(status, group.names);
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
    if (response != nullptr) *member->response<v1::CreateVerifyJobResponse>() = *response;
    member->Finish(status, group.trace);
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

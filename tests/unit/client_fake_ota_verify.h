// A hand-written fake of the otaverify.v1.OtaVerify service for the client and CLI tests, and a
// loopback server to run it on 127.0.0.1:0.
//
// Every method answers with what the test scripted and records the request it got. Each answer
// carries the `x-upstream-request-id` trailer "REQ-<method>", as the gateway's would.
// WatchVerifyJob plays a script: events with a delay before each, then an end status, or, with
// `hang`, stays open until the client cancels or its deadline passes.
// Thread-safe: gRPC runs the handlers on its own threads.
#ifndef OTAVERIFY_TESTS_UNIT_CLIENT_FAKE_OTA_VERIFY_H_
#define OTAVERIFY_TESTS_UNIT_CLIENT_FAKE_OTA_VERIFY_H_

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "otaverify/v1/ota_verify.grpc.pb.h"
#include "service/status/rich_status.h"

namespace otaverify::testing {

struct WatchStep {
  absl::Duration delay;  // before the event is written
  v1::WatchVerifyJobResponse event;
};

struct WatchScript {
  std::vector<WatchStep> steps;
  absl::Status end;   // how the stream ends after the last step
  bool hang = false;  // instead of ending: stay open until cancelled or past the deadline
};

class FakeOtaVerify final : public v1::OtaVerify::Service {
 public:
  void SetCreate(absl::StatusOr<v1::CreateVerifyJobResponse> answer) {
    absl::MutexLock lock(&mu_);
    create_ = std::move(answer);
  }
  // Answered in order; the last one repeats.
  void SetFirmware(std::vector<absl::StatusOr<v1::FirmwareVerification>> answers) {
    absl::MutexLock lock(&mu_);
    firmware_ = std::move(answers);
  }
  void SetJob(absl::StatusOr<v1::VerifyJob> answer) {
    absl::MutexLock lock(&mu_);
    job_ = std::move(answer);
  }
  void SetCancel(absl::StatusOr<v1::CancelVerifyJobResponse> answer) {
    absl::MutexLock lock(&mu_);
    cancel_ = std::move(answer);
  }
  void SetWatch(WatchScript script) {
    absl::MutexLock lock(&mu_);
    watch_ = std::move(script);
  }

  v1::CreateVerifyJobRequest create_request() const {
    absl::MutexLock lock(&mu_);
    return create_request_;
  }
  v1::GetFirmwareVerificationRequest firmware_request() const {
    absl::MutexLock lock(&mu_);
    return firmware_request_;
  }
  int firmware_calls() const {
    absl::MutexLock lock(&mu_);
    return firmware_calls_;
  }
  v1::GetVerifyJobRequest job_request() const {
    absl::MutexLock lock(&mu_);
    return job_request_;
  }
  v1::CancelVerifyJobRequest cancel_request() const {
    absl::MutexLock lock(&mu_);
    return cancel_request_;
  }
  v1::WatchVerifyJobRequest watch_request() const {
    absl::MutexLock lock(&mu_);
    return watch_request_;
  }
  int watch_calls() const {
    absl::MutexLock lock(&mu_);
    return watch_calls_;
  }
  // The deadline the last WatchVerifyJob call arrived with (InfiniteFuture for none).
  absl::Time watch_deadline() const {
    absl::MutexLock lock(&mu_);
    return watch_deadline_;
  }
  // Notified when a watch handler saw its call cancelled (client cancel or deadline).
  absl::Notification& watch_cancelled() { return watch_cancelled_; }

  grpc::Status CreateVerifyJob(grpc::ServerContext* context,
                               const v1::CreateVerifyJobRequest* request,
                               v1::CreateVerifyJobResponse* response) override {
    absl::MutexLock lock(&mu_);
    create_request_ = *request;
    return Answer(context, "CreateVerifyJob", create_, response);
  }

  grpc::Status GetFirmwareVerification(grpc::ServerContext* context,
                                       const v1::GetFirmwareVerificationRequest* request,
                                       v1::FirmwareVerification* response) override {
    absl::MutexLock lock(&mu_);
    firmware_request_ = *request;
    if (firmware_.empty()) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not scripted");
    const size_t index = std::min<size_t>(firmware_calls_++, firmware_.size() - 1);
    return Answer(context, "GetFirmwareVerification", firmware_[index], response);
  }

  grpc::Status GetVerifyJob(grpc::ServerContext* context, const v1::GetVerifyJobRequest* request,
                            v1::VerifyJob* response) override {
    absl::MutexLock lock(&mu_);
    job_request_ = *request;
    return Answer(context, "GetVerifyJob", job_, response);
  }

  grpc::Status CancelVerifyJob(grpc::ServerContext* context,
                               const v1::CancelVerifyJobRequest* request,
                               v1::CancelVerifyJobResponse* response) override {
    absl::MutexLock lock(&mu_);
    cancel_request_ = *request;
    return Answer(context, "CancelVerifyJob", cancel_, response);
  }

  grpc::Status WatchVerifyJob(grpc::ServerContext* context,
                              const v1::WatchVerifyJobRequest* request,
                              grpc::ServerWriter<v1::WatchVerifyJobResponse>* writer) override {
    WatchScript script;
    {
      absl::MutexLock lock(&mu_);
      watch_request_ = *request;
      ++watch_calls_;
      watch_deadline_ = context->deadline() == std::chrono::system_clock::time_point::max()
                            ? absl::InfiniteFuture()
                            : absl::FromChrono(context->deadline());
      script = watch_;
    }
    context->AddTrailingMetadata(kUpstreamRequestIdTrailer, "REQ-WatchVerifyJob");
    for (const WatchStep& step : script.steps) {
      if (!SleepUnlessCancelled(context, step.delay) || !writer->Write(step.event)) {
        return Cancelled();
      }
    }
    if (script.hang) {
      SleepUnlessCancelled(context, absl::Seconds(30));
      return Cancelled();
    }
    return ToGrpcStatus(script.end);
  }

 private:
  template <typename T>
  grpc::Status Answer(grpc::ServerContext* context, absl::string_view method,
                      const absl::StatusOr<T>& answer, T* response) {
    context->AddTrailingMetadata(kUpstreamRequestIdTrailer, absl::StrCat("REQ-", method));
    if (!answer.ok()) return ToGrpcStatus(answer.status());
    *response = *answer;
    return grpc::Status::OK;
  }

  // False if the call was cancelled first.
  static bool SleepUnlessCancelled(grpc::ServerContext* context, absl::Duration delay) {
    const absl::Time until = absl::Now() + delay;
    while (absl::Now() < until) {
      if (context->IsCancelled()) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return !context->IsCancelled();
  }

  grpc::Status Cancelled() {
    if (!watch_cancelled_.HasBeenNotified()) watch_cancelled_.Notify();
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  }

  mutable absl::Mutex mu_;
  absl::StatusOr<v1::CreateVerifyJobResponse> create_ ABSL_GUARDED_BY(mu_) =
      absl::UnimplementedError("not scripted");
  std::vector<absl::StatusOr<v1::FirmwareVerification>> firmware_ ABSL_GUARDED_BY(mu_);
  absl::StatusOr<v1::VerifyJob> job_ ABSL_GUARDED_BY(mu_) =
      absl::UnimplementedError("not scripted");
  absl::StatusOr<v1::CancelVerifyJobResponse> cancel_ ABSL_GUARDED_BY(mu_) =
      absl::UnimplementedError("not scripted");
  WatchScript watch_ ABSL_GUARDED_BY(mu_);

  v1::CreateVerifyJobRequest create_request_ ABSL_GUARDED_BY(mu_);
  v1::GetFirmwareVerificationRequest firmware_request_ ABSL_GUARDED_BY(mu_);
  int firmware_calls_ ABSL_GUARDED_BY(mu_) = 0;
  v1::GetVerifyJobRequest job_request_ ABSL_GUARDED_BY(mu_);
  v1::CancelVerifyJobRequest cancel_request_ ABSL_GUARDED_BY(mu_);
  v1::WatchVerifyJobRequest watch_request_ ABSL_GUARDED_BY(mu_);
  int watch_calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time watch_deadline_ ABSL_GUARDED_BY(mu_);
  absl::Notification watch_cancelled_;
};

// The fake, served on 127.0.0.1:0 for the lifetime of the object.
class FakeGateway {
 public:
  FakeGateway() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (server_ != nullptr && port != 0) target_ = absl::StrCat("127.0.0.1:", port);
  }
  ~FakeGateway() {
    // A deadline makes Shutdown cancel a watch still hanging instead of waiting for it.
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }

  // Empty if the server did not start.
  const std::string& target() const { return target_; }
  FakeOtaVerify& service() { return service_; }

 private:
  FakeOtaVerify service_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
};

}  // namespace otaverify::testing

#endif  // OTAVERIFY_TESTS_UNIT_CLIENT_FAKE_OTA_VERIFY_H_

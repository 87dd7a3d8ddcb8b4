// FakeHttpTransport: an HttpTransport for unit tests that records every request and answers
// inline, before Send returns, with scripted replies (in order) or, once they run out, with a
// handler. Without either it answers UNAVAILABLE. Thread-safe.
#ifndef OTAVERIFY_TESTS_TESTING_FAKE_HTTP_TRANSPORT_H_
#define OTAVERIFY_TESTS_TESTING_FAKE_HTTP_TRANSPORT_H_

#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "service/transport/http_transport.h"

namespace otaverify::testing {

inline HttpResponse Reply(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = {{"content-type", "application/json"}};
  return response;
}

class FakeHttpTransport : public HttpTransport {
 public:
  using Handler = std::function<absl::StatusOr<HttpResponse>(const HttpRequest&)>;

  // Answers the next request not yet answered by an earlier Push.
  void Push(absl::StatusOr<HttpResponse> reply) {
    absl::MutexLock lock(&mu_);
    script_.push_back(std::move(reply));
  }
  // Answers every request once the script has run out.
  void SetHandler(Handler handler) {
    absl::MutexLock lock(&mu_);
    handler_ = std::move(handler);
  }

  std::vector<HttpRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  size_t request_count() const {
    absl::MutexLock lock(&mu_);
    return requests_.size();
  }
  void ClearRequests() {
    absl::MutexLock lock(&mu_);
    requests_.clear();
  }

  TransferId Send(HttpRequest request, HttpCallback done) override {
    absl::StatusOr<HttpResponse> reply =
        absl::UnavailableError("fake transport: no reply scripted");
    Handler handler;
    TransferId id;
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
      id = ++next_id_;
      if (!script_.empty()) {
        reply = std::move(script_.front());
        script_.pop_front();
      } else {
        handler = handler_;
      }
    }
    if (handler) reply = handler(request);
    std::move(done)(std::move(reply));
    return id;
  }
  void Cancel(TransferId id) override {}

 private:
  mutable absl::Mutex mu_;
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::StatusOr<HttpResponse>> script_ ABSL_GUARDED_BY(mu_);
  Handler handler_ ABSL_GUARDED_BY(mu_);
  TransferId next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace otaverify::testing

#endif  // OTAVERIFY_TESTS_TESTING_FAKE_HTTP_TRANSPORT_H_

#include "emulator/emulator_server.h"

#include <httplib.h>

#include <chrono>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "emulator/response.h"

namespace otaverify {
namespace emulator {
namespace {

// httplib hands each accepted socket to TaskQueue::enqueue exactly once, so wrapping its pool
// counts real TCP connections — what the gateway's connection-reuse tests need to see.
class CountingTaskQueue : public httplib::TaskQueue {
 public:
  CountingTaskQueue(size_t threads, EmulatorStats* stats) : pool_(threads), stats_(stats) {}

  void enqueue(std::function<void()> fn) override {
    stats_->RecordConnection();
    pool_.enqueue(std::move(fn));
  }
  void shutdown() override { pool_.shutdown(); }
  void on_idle() override { pool_.on_idle(); }

 private:
  httplib::ThreadPool pool_;
  EmulatorStats* const stats_;
};

// Error codes for failures httplib answers before any handler runs (bad request line, URI or
// body too long, unsupported method).
const char* CodeForStatus(int status) {
  switch (status) {
    case 404:
      return "InvalidApi.NotFound";
    case 405:
      return "UnsupportedHTTPMethod";
    case 413:
      return "InvalidParameter.BodyTooLarge";
    case 414:
      return "InvalidParameter.UriTooLong";
    case 431:
      return "InvalidParameter.HeaderTooLarge";
    default:
      return status >= 500 ? "InternalError" : "InvalidParameter";
  }
}

}  // namespace

EmulatorServer::EmulatorServer(EmulatorOptions options, const Clock* clock)
    : options_(std::move(options)),
      state_(options_.seed),
      rpc_(options_.access_key, clock, &state_, &ids_),
      server_(std::make_unique<httplib::Server>()) {}

EmulatorServer::~EmulatorServer() { Stop(); }

void EmulatorServer::Reset() {
  state_.Reset();
  rpc_.Reset();
  stats_.Reset();
}

void EmulatorServer::RegisterHandlers() {
  server_->new_task_queue = [this] {
    return new CountingTaskQueue(static_cast<size_t>(options_.worker_threads), &stats_);
  };
  server_->set_keep_alive_max_count(std::numeric_limits<int>::max());
  server_->set_keep_alive_timeout(
      static_cast<time_t>(absl::ToInt64Seconds(options_.keep_alive_timeout)));
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_tcp_nodelay(true);

  server_->Get("/_emulator/stats", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(stats_.ToJson(), "application/json");
  });
  server_->Post("/_emulator/reset", [this](const httplib::Request&, httplib::Response& res) {
    Reset();
    res.set_content("{\"reset\":true}", "application/json");
  });

  auto rpc = [this](const httplib::Request& req, httplib::Response& res) {
    RpcHttpRequest request;
    request.method = req.method;
    request.target = req.target;
    request.body = req.body;
    for (const auto& [name, value] : req.headers) {
      request.headers.emplace_back(absl::AsciiStrToLower(name), value);
    }
    const RpcHttpReply reply = rpc_.Handle(request);
    if (!absl::StartsWith(req.target, "/_emulator/")) {
      stats_.RecordRequest(reply.action, reply.outcome);
    }
    res.status = reply.status;
    res.set_header("x-acs-request-id", reply.request_id);
    res.set_content(reply.body, reply.content_type.c_str());
  };
  server_->Get(".*", rpc);
  server_->Post(".*", rpc);

  // Whatever httplib answers by itself still gets a gateway-layer body, so clients always
  // see the service's error shape.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const std::string code = CodeForStatus(res.status);
        const Body body = RenderError(
            GatewayError(res.status, code,
                         absl::StrCat("The request was rejected with HTTP ", res.status, ".")),
            ids_.RequestId(), req.get_header_value("Host"), "", true);
        res.set_content(body.text, body.content_type.c_str());
        return httplib::Server::HandlerResponse::Handled;
      }));
  server_->set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        const Body body = RenderError(
            GatewayError(500, "InternalError", "The emulator failed to process the request."),
            ids_.RequestId(), req.get_header_value("Host"), "", true);
        res.status = 500;
        res.set_content(body.text, body.content_type.c_str());
      });
}

absl::Status EmulatorServer::Start() {
  if (started_) return absl::FailedPreconditionError("emulator already started");
  const size_t colon = options_.listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(options_.listen).substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen \"", options_.listen, "\" must be host:port"));
  }
  std::string host = options_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  RegisterHandlers();
  if (port == 0) {
    port = server_->bind_to_any_port(host);
    if (port < 0) return absl::UnavailableError(absl::StrCat("cannot bind ", options_.listen));
  } else if (!server_->bind_to_port(host, port)) {
    return absl::UnavailableError(absl::StrCat("cannot bind ", options_.listen));
  }
  port_ = port;
  address_ = absl::StrCat(options_.listen.substr(0, colon), ":", port);
  started_ = true;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() is a no-op until the accept loop runs; wait for it so Stop() right after
  // Start() cannot hang.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!server_->is_running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  if (!server_->is_running()) return absl::InternalError("emulator accept loop did not start");
  return absl::OkStatus();
}

void EmulatorServer::Stop() {
  if (!started_) return;
  started_ = false;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace emulator
}  // namespace otaverify

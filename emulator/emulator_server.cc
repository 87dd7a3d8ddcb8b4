#include "emulator/emulator_server.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "emulator/authenticator.h"
#include "emulator/connection_socket.h"
#include "emulator/response.h"
#include "service/common/json.h"

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

// What a load balancer in front of the service (Tengine, at Alibaba Cloud) sends when the
// service behind it is unreachable: HTML, no JSON error body.
constexpr char kBadGatewayHtml[] =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n"
    "</body>\r\n</html>\r\n";

// A captive portal or misrouted proxy answering 200 with a page instead of the API.
constexpr char kNonJsonHtml[] =
    "<!DOCTYPE html><html><head><title>Network login</title></head>"
    "<body><p>This network requires you to sign in.</p></body></html>";

// slow_drip_body writes this many body bytes per write.
constexpr size_t kDripBytes = 8;

RpcHttpRequest ToRpcRequest(const httplib::Request& req) {
  RpcHttpRequest request;
  request.method = req.method;
  request.target = req.target;
  request.body = req.body;
  for (const auto& [name, value] : req.headers) {
    request.headers.emplace_back(absl::AsciiStrToLower(name), value);
  }
  return request;
}

void SetReply(const RpcHttpReply& reply, httplib::Response& res) {
  res.status = reply.status;
  res.set_header("x-acs-request-id", reply.request_id);
  res.set_content(reply.body, reply.content_type.c_str());
}

// A JSON body for the control hooks' own errors (they are not part of the emulated API).
void SetHookError(const absl::Status& status, httplib::Response& res) {
  res.status = 400;
  Doc doc;
  doc.Str("error", status.message());
  res.set_content(doc.ToJson(), "application/json");
}

std::unique_ptr<httplib::Server> MakeServer(const EmulatorOptions& options) {
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) {
    return std::make_unique<httplib::Server>();
  }
  return std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(),
                                              options.tls_key_file.c_str());
}

}  // namespace

EmulatorServer::EmulatorServer(EmulatorOptions options, const Clock* clock)
    : options_(std::move(options)),
      state_(options_.seed, options_.simulation, clock),
      credential_settings_(options_.credentials),
      issued_(&ids_),
      quota_(options_.quota),
      page_cap_(options_.max_page_size),
      imds_(clock, &credential_settings_, &issued_, &ids_, &stats_),
      rpc_(options_.access_key, clock, &state_, &ids_, &credential_settings_, &issued_, &quota_,
           &stats_, &page_cap_),
      server_(MakeServer(options_)) {}

EmulatorServer::~EmulatorServer() { Stop(); }

void EmulatorServer::Reset() {
  state_.Reset();
  rpc_.Reset();
  credential_settings_.Reset();
  quota_.Reset();
  page_cap_.Reset();
  issued_.Clear();
  imds_.Reset();
  stats_.Reset();
  faults_.Clear();
}

bool EmulatorServer::SleepUnlessStopping(absl::Duration d) {
  return !stopping_.WaitForNotificationWithTimeout(d);
}

void EmulatorServer::ServeFault(const Fault& fault, const RpcHttpRequest& request,
                                const httplib::Request& req, httplib::Response& res) {
  const std::string action = PeekAction(request);
  stats_.RecordFault(action, FaultName(fault.kind));
  if (PeekVersion(request) == kStsApiVersion) {
    stats_.RecordStsRequest(action, absl::StrCat("fault:", FaultName(fault.kind)));
  }
  const std::string host = req.get_header_value("Host");
  auto gateway_error = [&](int status, const char* code, const char* message, bool json) {
    const std::string request_id = ids_.RequestId();
    const Body body = RenderError(GatewayError(status, code, message), request_id, host, "", json);
    res.status = status;
    res.set_header("x-acs-request-id", request_id);
    res.set_content(body.text, body.content_type.c_str());
  };
  // The socket is looked up and acted on here, while the handler runs (connection_socket.h):
  // only then is the descriptor certainly still this connection's.
  auto socket = [&req] {
    return FindConnectionSocket(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
  };

  switch (fault.kind) {
    case FaultKind::kDelay: {
      // Processed first, answered late: a create the client gave up on still exists.
      const RpcHttpReply reply = rpc_.Handle(request);
      SleepUnlessStopping(fault.delay);
      SetReply(reply, res);
      return;
    }
    case FaultKind::kHttp500:
      gateway_error(500, "InternalError",
                    "The request processing has failed due to some unknown error.", true);
      return;
    case FaultKind::kHttp502:
      res.status = 502;
      res.set_content(kBadGatewayHtml, "text/html");
      return;
    case FaultKind::kHttp503:
      gateway_error(503, "ServiceUnavailable",
                    "The request has failed due to a temporary failure of the server.", true);
      return;
    case FaultKind::kThrottling:
      gateway_error(400, "Throttling.User", "Request was denied due to user flow control.", true);
      return;
    case FaultKind::kXmlErrorBody:
      gateway_error(400, "Throttling.User", "Request was denied due to user flow control.", false);
      return;
    case FaultKind::kNonJsonBody:
      res.status = 200;
      res.set_content(kNonJsonHtml, "text/html");
      return;
    case FaultKind::kResetBeforeResponse: {
      // Not processed: the request was read, nothing was done, the connection is aborted.
      const int fd = socket();
      if (fd < 0 || !ResetConnection(fd)) {
        gateway_error(500, "InternalError", "emulator: cannot reset the connection's socket", true);
      }
      // Otherwise whatever httplib now writes goes to /dev/null.
      return;
    }
    case FaultKind::kProcessThenReset: {
      // Processed — a create IS recorded — but the answer is never sent: the connection is
      // aborted as if it broke after the request went out (protocol.md §6: a create whose
      // outcome is unknown must be reconciled, not blindly re-sent).
      rpc_.Handle(request);
      const int fd = socket();
      if (fd < 0 || !ResetConnection(fd)) {
        gateway_error(500, "InternalError", "emulator: cannot reset the connection's socket", true);
      }
      return;
    }
    case FaultKind::kCloseAfterResponse: {
      const RpcHttpReply reply = rpc_.Handle(request);
      res.status = reply.status;
      res.set_header("x-acs-request-id", reply.request_id);
      // Normal keep-alive headers and the whole body; then the provider reports failure, so
      // httplib abandons the connection instead of reading the next request: it shuts the
      // socket down and closes it itself, on this thread. The FIN follows the last body byte,
      // and a next request is never read (the kernel answers it with RST). The provider runs
      // after the handler has returned, so it must not touch a descriptor (connection_socket.h).
      res.set_content_provider(
          reply.body.size(), reply.content_type,
          [body = reply.body](size_t offset, size_t length, httplib::DataSink& sink) {
            (void)sink.write(body.data() + offset, length);
            return false;
          });
      return;
    }
    case FaultKind::kTruncatedBody: {
      // Content-Length is the whole body; only the first half is sent, then httplib closes the
      // connection because the provider failed.
      const RpcHttpReply reply = rpc_.Handle(request);
      res.status = reply.status;
      res.set_header("x-acs-request-id", reply.request_id);
      res.set_content_provider(reply.body.size(), reply.content_type,
                               [body = reply.body](size_t offset, size_t, httplib::DataSink& sink) {
                                 const size_t half = body.size() / 2;
                                 if (offset >= half) return false;
                                 return sink.write(body.data() + offset, half - offset);
                               });
      return;
    }
    case FaultKind::kSlowDripBody: {
      const RpcHttpReply reply = rpc_.Handle(request);
      res.status = reply.status;
      res.set_header("x-acs-request-id", reply.request_id);
      const size_t writes = (reply.body.size() + kDripBytes - 1) / kDripBytes;
      // Each pause rounded up, so the whole body takes at least `delay`.
      const absl::Duration pause =
          writes == 0 ? absl::ZeroDuration() : fault.delay / writes + absl::Microseconds(1);
      res.set_content_provider(
          reply.body.size(), reply.content_type,
          [this, body = reply.body, pause](size_t offset, size_t length, httplib::DataSink& sink) {
            if (!SleepUnlessStopping(pause)) return false;
            return sink.write(body.data() + offset, std::min(length, kDripBytes));
          });
      return;
    }
    case FaultKind::kImdsTimeout:
    case FaultKind::kImdsHttp500:
    case FaultKind::kImdsCodeNotSuccess:
    case FaultKind::kImdsExpired:
    case FaultKind::kImdsRepeat:
    case FaultKind::kImdsFractionalExpiry:
      // FaultInjector::Take never hands IMDS faults to RPC requests.
      gateway_error(500, "InternalError", "emulator: an IMDS fault reached the RPC path", true);
      return;
  }
}

void EmulatorServer::ServeImds(const RpcHttpRequest& request, httplib::Response& res) {
  const absl::string_view path =
      absl::string_view(request.target).substr(0, request.target.find('?'));
  const absl::string_view kind = ImdsPathKindName(ClassifyImdsPath(path));
  stats_.RecordImdsRequest(kind);
  ImdsAnswer answer = ImdsAnswer::kNormal;
  if (faults_.AnyArmed()) {
    if (std::optional<Fault> fault = faults_.TakeImds(kind)) {
      stats_.RecordImdsFault(FaultName(fault->kind));
      switch (fault->kind) {
        case FaultKind::kImdsTimeout:
          // Held, then answered normally: a client with a shorter timeout sees none.
          SleepUnlessStopping(fault->delay);
          break;
        case FaultKind::kImdsHttp500:
          res.status = 500;
          res.set_content("Internal Server Error", "text/plain;charset=utf-8");
          return;
        case FaultKind::kImdsCodeNotSuccess:
          answer = ImdsAnswer::kCodeNotSuccess;
          break;
        case FaultKind::kImdsExpired:
          answer = ImdsAnswer::kExpired;
          break;
        case FaultKind::kImdsRepeat:
          answer = ImdsAnswer::kRepeat;
          break;
        case FaultKind::kImdsFractionalExpiry:
          answer = ImdsAnswer::kFractionalExpiry;
          break;
        default:
          break;  // TakeImds hands out IMDS faults only
      }
    }
  }
  const ImdsReply reply = imds_.Handle(request, answer);
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type.c_str());
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
    res.set_content(stats_.ToJson(quota_.enabled()), "application/json");
  });
  server_->Get("/_emulator/quota", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(quota_.Get().ToJson(), "application/json");
  });
  server_->Post("/_emulator/quota", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<QuotaSettings> updated = quota_.Update(req.body);
    if (!updated.ok()) return SetHookError(updated.status(), res);
    res.set_content(updated->ToJson(), "application/json");
  });
  server_->Get("/_emulator/paging", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(page_cap_.ToJson(), "application/json");
  });
  server_->Post("/_emulator/paging", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<std::string> updated = page_cap_.Update(req.body);
    if (!updated.ok()) return SetHookError(updated.status(), res);
    res.set_content(*updated, "application/json");
  });
  server_->Post("/_emulator/reset", [this](const httplib::Request&, httplib::Response& res) {
    Reset();
    res.set_content("{\"reset\":true}", "application/json");
  });
  server_->Post("/_emulator/faults", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<Fault> fault = ParseFault(req.body);
    if (!fault.ok()) return SetHookError(fault.status(), res);
    const std::string json = fault->ToJson();
    if (absl::Status armed = faults_.Arm(*std::move(fault)); !armed.ok()) {
      return SetHookError(armed, res);
    }
    res.set_content(absl::StrCat("{\"armed\":", json, "}"), "application/json");
  });
  server_->Get("/_emulator/faults", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(faults_.ToJson(), "application/json");
  });
  server_->Delete("/_emulator/faults", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(absl::StrCat("{\"cleared\":", faults_.Clear(), "}"), "application/json");
  });
  server_->Get("/_emulator/credentials", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(credential_settings_.Get().ToJson(), "application/json");
  });
  server_->Get(
      "/_emulator/credentials/issued", [this](const httplib::Request&, httplib::Response& res) {
        std::string json = "{\"issued\":[";
        const char* separator = "";
        for (const IssuedCredential& c : issued_.All()) {
          absl::StrAppend(&json, separator, "{\"access_key_id\":", JsonQuote(c.access_key_id),
                          ",\"access_key_secret\":", JsonQuote(c.access_key_secret),
                          ",\"security_token\":", JsonQuote(c.security_token), "}");
          separator = ",";
        }
        res.set_content(json + "]}", "application/json");
      });
  server_->Post(
      "/_emulator/credentials", [this](const httplib::Request& req, httplib::Response& res) {
        absl::StatusOr<CredentialSettings> updated = credential_settings_.Update(req.body);
        if (!updated.ok()) return SetHookError(updated.status(), res);
        res.set_content(updated->ToJson(), "application/json");
      });

  // The ECS metadata service lives under /latest/ (credentials.md §2); registered before the
  // catch-all RPC handlers, which httplib tries in registration order.
  auto imds = [this](const httplib::Request& req, httplib::Response& res) {
    ServeImds(ToRpcRequest(req), res);
  };
  server_->Get("/latest/.*", imds);
  server_->Put("/latest/.*", imds);
  // httplib reads a PUT's body before routing and, without Content-Length, waits for EOF and
  // then answers 400 — but clients send the token PUT bodiless and often without the header
  // (curl -X PUT, libcurl's CURLOPT_CUSTOMREQUEST). Such PUTs are served before that read.
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "PUT" || !absl::StartsWith(req.path, "/latest/") ||
        req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    ServeImds(ToRpcRequest(req), res);
    return httplib::Server::HandlerResponse::Handled;
  });

  auto rpc = [this](const httplib::Request& req, httplib::Response& res) {
    const RpcHttpRequest request = ToRpcRequest(req);
    const bool hook = absl::StartsWith(req.target, "/_emulator/");
    if (!hook && faults_.AnyArmed()) {
      if (std::optional<Fault> fault = faults_.Take(PeekAction(request))) {
        return ServeFault(*fault, request, req, res);
      }
    }
    const RpcHttpReply reply = rpc_.Handle(request);
    if (!hook) stats_.RecordRequest(reply.action, reply.outcome);
    if (!hook && reply.sts) stats_.RecordStsRequest(reply.action, reply.outcome);
    SetReply(reply, res);
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
  if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a private key file");
  }
  if (absl::Status valid = ValidateCredentialSettings(options_.credentials); !valid.ok()) {
    return valid;
  }
  if (absl::Status valid = ValidateQuotaSettings(options_.quota); !valid.ok()) return valid;
  if (absl::Status valid = ValidateSimulationSettings(options_.simulation); !valid.ok()) {
    return valid;
  }
  if (absl::Status valid = ValidateMaxPageSize(options_.max_page_size); !valid.ok()) return valid;
  if (!server_->is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load TLS certificate \"",
                                                   options_.tls_cert_file, "\" and key \"",
                                                   options_.tls_key_file, "\""));
  }
  if (tls()) {
    // OpenSSL counts on the SSL_CTX: accept_good = every completed server handshake, hits =
    // the resumed ones (session id or ticket).
    SSL_CTX* ctx = static_cast<httplib::SSLServer*>(server_.get())->ssl_context();
    stats_.SetTlsSource([ctx] {
      const int64_t good = SSL_CTX_sess_accept_good(ctx);
      const int64_t hits = SSL_CTX_sess_hits(ctx);
      return TlsHandshakeCounts{good - hits, hits};
    });
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
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace emulator
}  // namespace otaverify

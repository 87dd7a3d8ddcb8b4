#include "service/transport/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace otaverify {
namespace {

// One request in flight. Owned by the loop thread from the moment it is dequeued.
struct Transfer {
  TransferId id = 0;
  HttpRequest request;
  HttpCallback done;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  HttpResponse response;
  bool too_large = false;
  size_t max_body = 0;
  char error[CURL_ERROR_SIZE] = {0};

  ~Transfer() {
    if (header_list != nullptr) curl_slist_free_all(header_list);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response.body.size() + n > t->max_body) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  absl::string_view line(data, n);
  if (absl::StartsWith(line, "HTTP/")) {
    t->response.headers.clear();  // a new response (e.g. after 100 Continue)
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  t->response.headers.emplace_back(
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return n;
}

long Millis(absl::Duration d) { return static_cast<long>(absl::ToInt64Milliseconds(d)); }

absl::Duration InfoTime(CURL* easy, CURLINFO what) {
  curl_off_t micros = 0;
  curl_easy_getinfo(easy, what, &micros);
  return absl::Microseconds(micros);
}

std::string HttpVersionName(long version) {
  switch (version) {
    case CURL_HTTP_VERSION_1_0:
      return "1.0";
    case CURL_HTTP_VERSION_1_1:
      return "1.1";
    case CURL_HTTP_VERSION_2_0:
      return "2";
    case CURL_HTTP_VERSION_3:
      return "3";
    default:
      return "";
  }
}

// Classifies a failed transfer as http_transport.h documents.
absl::Status TransferFailure(CURLcode code, Transfer& t) {
  long sent = 0;
  curl_easy_getinfo(t.easy, CURLINFO_REQUEST_SIZE, &sent);
  const std::string what = absl::StrCat(curl_easy_strerror(code), t.error[0] ? ": " : "", t.error);
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return NotSent(absl::UnavailableError(absl::StrCat("connect failed: ", what)));
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
      return NotSent(absl::UnavailableError(absl::StrCat("TLS handshake failed: ", what)));
    case CURLE_OPERATION_TIMEDOUT:
      if (sent == 0) {
        // Either the connect phase timed out, or the whole budget went by waiting for a free
        // connection: the caller's time is up in the second case, not the upstream's fault.
        if (InfoTime(t.easy, CURLINFO_TOTAL_TIME_T) + absl::Milliseconds(1) >= t.request.timeout) {
          return NotSent(absl::DeadlineExceededError(
              absl::StrCat("no connection in time, nothing was sent: ", what)));
        }
        return NotSent(absl::UnavailableError(absl::StrCat("connect timed out: ", what)));
      }
      return absl::DeadlineExceededError(absl::StrCat("timed out: ", what));
    case CURLE_WRITE_ERROR:
      if (t.too_large) {
        return absl::ResourceExhaustedError(
            absl::StrCat("response body exceeds ", t.max_body, " bytes"));
      }
      break;
    default:
      break;
  }
  if (sent == 0) return NotSent(absl::UnavailableError(absl::StrCat("nothing sent: ", what)));
  return absl::UnknownError(absl::StrCat("failed after sending: ", what));
}

}  // namespace

class CurlTransport::Impl {
 public:
  explicit Impl(const Options& options) : options_(options) {}

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (multi_ != nullptr) curl_multi_wakeup(multi_);
    if (loop_.joinable()) loop_.join();
    // A Send or Cancel that queued its work before stopping_ was set may still be about to
    // wake the loop: the multi handle must outlive that call (a few instructions away).
    while (wakers_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
    if (share_ != nullptr) curl_share_cleanup(share_);
  }

  absl::Status Start() {
    multi_ = curl_multi_init();
    share_ = curl_share_init();
    if (multi_ == nullptr || share_ == nullptr) return absl::InternalError("curl init failed");
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(options_.max_host_connections));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS,
                      static_cast<long>(options_.max_host_connections * 2));
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    // Only the loop thread touches the share handle, so it needs no lock callbacks.
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    loop_ = std::thread([this] { Loop(); });
    return absl::OkStatus();
  }

  TransferId Send(HttpRequest request, HttpCallback done) {
    auto transfer = std::make_unique<Transfer>();
    transfer->request = std::move(request);
    transfer->done = std::move(done);
    const TransferId id = next_id_.fetch_add(1, std::memory_order_relaxed);
    transfer->id = id;
    bool wake = false;
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        queue_.push_back(std::move(transfer));
        transfer = nullptr;
        wake = TakeWakeLocked();
      }
    }
    // After unlocking: the loop's first step is to take the lock, so a wake-up sent under it
    // would put the loop straight back to sleep on the mutex.
    if (wake) Wake();
    if (transfer != nullptr) {
      std::move(transfer->done)(NotSent(absl::CancelledError("transport is shutting down")));
    }
    return id;
  }

  void Cancel(TransferId id) {
    std::unique_ptr<Transfer> not_started;
    bool wake = false;
    {
      absl::MutexLock lock(&mu_);
      auto queued = std::find_if(queue_.begin(), queue_.end(),
                                 [id](const auto& t) { return t->id == id; });
      if (queued != queue_.end()) {
        not_started = std::move(*queued);
        queue_.erase(queued);
      } else if (!stopping_) {
        cancels_.push_back(id);
        wake = TakeWakeLocked();
      }
    }
    if (wake) Wake();
    if (not_started != nullptr) {
      cancelled_.fetch_add(1, std::memory_order_relaxed);
      std::move(not_started->done)(NotSent(absl::CancelledError("cancelled before it was sent")));
    }
  }

  Stats GetStats() const {
    Stats s;
    s.transfers_started = started_.load(std::memory_order_relaxed);
    s.transfers_finished = finished_.load(std::memory_order_relaxed);
    s.connections_opened = connections_.load(std::memory_order_relaxed);
    s.transfers_cancelled = cancelled_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  // Whether the caller must wake the loop: not if an earlier caller's wake-up has not been
  // taken yet, since the loop will then pick up this one's work too. Under load most calls
  // find a wake-up pending and skip the syscall.
  bool TakeWakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (wake_pending_) return false;
    wake_pending_ = true;
    wakers_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // Wakes the loop for the caller TakeWakeLocked chose; the destructor waits for it.
  void Wake() {
    curl_multi_wakeup(multi_);
    wakers_.fetch_sub(1, std::memory_order_release);
  }

  void Loop() {
    while (true) {
      std::vector<std::unique_ptr<Transfer>> incoming;
      std::vector<TransferId> cancels;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) break;
        incoming.swap(queue_);
        cancels.swap(cancels_);
        wake_pending_ = false;
      }
      for (auto& t : incoming) {
        absl::Status started = StartTransfer(*t);
        if (!started.ok()) {
          std::move(t->done)(started);
          continue;
        }
        const TransferId id = t->id;
        active_.emplace(id, std::move(t));
      }
      for (TransferId id : cancels) Abort(id, absl::CancelledError("cancelled by the caller"));
      int running = 0;
      curl_multi_perform(multi_, &running);
      CollectFinished();
      curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    }
    // Shutting down: fail everything not finished, active and queued alike.
    std::vector<TransferId> ids;
    for (const auto& [id, t] : active_) ids.push_back(id);
    for (TransferId id : ids) Abort(id, absl::CancelledError("transport is shutting down"));
    std::vector<std::unique_ptr<Transfer>> queued;
    {
      absl::MutexLock lock(&mu_);
      queued.swap(queue_);
    }
    for (auto& t : queued) std::move(t->done)(absl::CancelledError("transport is shutting down"));
  }

  // Removes an active transfer, dropping its connection, and reports `why`.
  void Abort(TransferId id, const absl::Status& why) {
    auto it = active_.find(id);
    if (it == active_.end()) return;  // finished already
    std::unique_ptr<Transfer> t = std::move(it->second);
    active_.erase(it);
    curl_multi_remove_handle(multi_, t->easy);
    cancelled_.fetch_add(1, std::memory_order_relaxed);
    std::move(t->done)(why);
  }

  absl::Status StartTransfer(Transfer& t) {
    t.easy = curl_easy_init();
    if (t.easy == nullptr) return absl::UnavailableError("curl_easy_init failed");
    t.max_body = options_.max_response_bytes;
    CURL* e = t.easy;
    const HttpRequest& r = t.request;
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_SHARE, share_);
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
    if (r.no_proxy) curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    if (r.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
      // POSTFIELDS with an explicit size keeps the connection reusable after a 4xx (a read
      // callback with a hand-set Content-Length does not).
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.c_str());
      if (r.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    bool has_content_type = false;
    for (const auto& [name, value] : r.headers) {
      has_content_type |= absl::EqualsIgnoreCase(name, "content-type");
      t.header_list = curl_slist_append(t.header_list, absl::StrCat(name, ": ", value).c_str());
    }
    // No header curl would add on its own: an empty body has no content type, and the
    // upstream never needs 100-continue.
    if (!has_content_type) t.header_list = curl_slist_append(t.header_list, "Content-Type:");
    t.header_list = curl_slist_append(t.header_list, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.header_list);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);

    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, std::max(1L, Millis(r.timeout)));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     std::max(1L, Millis(std::min(options_.connect_timeout, r.timeout))));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN,
                     static_cast<long>(absl::ToInt64Seconds(options_.max_idle_age)));
    curl_easy_setopt(e, CURLOPT_MAXLIFETIME_CONN,
                     static_cast<long>(absl::ToInt64Seconds(options_.max_lifetime)));
    // HTTP/2 over TLS where the upstream offers it, HTTP/1.1 otherwise. Over TLS, wait for a
    // connection being set up to say (by ALPN) whether it multiplexes rather than opening
    // another. Plain http:// is always HTTP/1.1 here, and waiting would hold every new transfer
    // until the first one's answer has arrived.
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    if (absl::StartsWithIgnoreCase(t.request.url, "https://")) {
      curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    }
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());

    if (curl_multi_add_handle(multi_, e) != CURLM_OK) {
      return absl::UnavailableError("curl_multi_add_handle failed");
    }
    started_.fetch_add(1, std::memory_order_relaxed);
    return absl::OkStatus();
  }

  void CollectFinished() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      const CURLcode code = msg->data.result;
      Transfer* raw = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
      curl_multi_remove_handle(multi_, msg->easy_handle);
      auto it = active_.find(raw->id);
      if (it == active_.end()) continue;
      std::unique_ptr<Transfer> t = std::move(it->second);
      active_.erase(it);
      Finish(*t, code);
    }
  }

  void Finish(Transfer& t, CURLcode code) {
    long connects = 0;
    curl_easy_getinfo(t.easy, CURLINFO_NUM_CONNECTS, &connects);
    connections_.fetch_add(static_cast<uint64_t>(connects), std::memory_order_relaxed);
    finished_.fetch_add(1, std::memory_order_relaxed);
    if (code != CURLE_OK) {
      std::move(t.done)(TransferFailure(code, t));
      return;
    }
    long status = 0;
    long version = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t.easy, CURLINFO_HTTP_VERSION, &version);
    TransferInfo& info = t.response.info;
    t.response.status = static_cast<int>(status);
    info.new_connection = connects > 0;
    info.http_version = HttpVersionName(version);
    info.total_time = InfoTime(t.easy, CURLINFO_TOTAL_TIME_T);
    if (info.new_connection) {
      const absl::Duration connected = InfoTime(t.easy, CURLINFO_CONNECT_TIME_T);
      const absl::Duration app_connected = InfoTime(t.easy, CURLINFO_APPCONNECT_TIME_T);
      info.connect_time = connected - InfoTime(t.easy, CURLINFO_NAMELOOKUP_TIME_T);
      if (app_connected > connected) info.tls_handshake_time = app_connected - connected;
    }
    std::move(t.done)(std::move(t.response));
  }

  const Options options_;
  CURLM* multi_ = nullptr;
  CURLSH* share_ = nullptr;
  std::thread loop_;
  std::atomic<TransferId> next_id_{1};
  std::atomic<uint64_t> started_{0};
  std::atomic<uint64_t> finished_{0};
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> cancelled_{0};
  // Loop thread only.
  absl::flat_hash_map<TransferId, std::unique_ptr<Transfer>> active_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<Transfer>> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<TransferId> cancels_ ABSL_GUARDED_BY(mu_);
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;
  // Callers between TakeWakeLocked and the end of their Wake (raised under mu_).
  std::atomic<int> wakers_{0};
};

absl::StatusOr<std::unique_ptr<CurlTransport>> CurlTransport::Create(const Options& options) {
  static std::once_flag global_init;
  static CURLcode global_result = CURLE_OK;
  std::call_once(global_init, [] { global_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (global_result != CURLE_OK) return absl::InternalError("curl_global_init failed");
  if (options.max_host_connections < 1) {
    return absl::InvalidArgumentError("max_host_connections must be at least 1");
  }
  auto impl = std::make_unique<Impl>(options);
  absl::Status started = impl->Start();
  if (!started.ok()) return started;
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(impl)));
}

CurlTransport::CurlTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CurlTransport::~CurlTransport() = default;

TransferId CurlTransport::Send(HttpRequest request, HttpCallback done) {
  return impl_->Send(std::move(request), std::move(done));
}

void CurlTransport::Cancel(TransferId id) { impl_->Cancel(id); }

CurlTransport::Stats CurlTransport::GetStats() const { return impl_->GetStats(); }

}  // namespace otaverify

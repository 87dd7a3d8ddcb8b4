// LoopbackServer: a raw TCP server on 127.0.0.1:0 for transport tests. Each accepted
// connection runs `handler(fd)` on its own thread, so a test scripts the peer byte by byte:
// answer, stall, reset, close a kept-alive connection, send half a body.
//
// Thread-safe accessors; the destructor stops accepting, shuts down open connections and
// joins every thread.
#ifndef OTAVERIFY_TESTS_TESTING_LOOPBACK_SERVER_H_
#define OTAVERIFY_TESTS_TESTING_LOOPBACK_SERVER_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace otaverify::testing {

class LoopbackServer {
 public:
  using Handler = std::function<void(int fd)>;

  explicit LoopbackServer(Handler handler);
  ~LoopbackServer();

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }

 private:
  void AcceptLoop();

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<int> open_fds_ ABSL_GUARDED_BY(mu_);
};

// Reads one request head (up to the blank line); false on EOF or error. Bodies are not read:
// the gateway sends none.
bool ReadRequestHead(int fd, std::string* head = nullptr);
void WriteAll(int fd, const std::string& data);
// A complete HTTP/1.1 response with a body and keep-alive.
std::string HttpResponseText(int status, const std::string& body);
// Makes the close of `fd` (when the handler returns) send a TCP RST instead of a FIN.
void ResetConnection(int fd);
// Blocks until the peer closes (read returns 0 or fails); returns false after `timeout_ms`.
bool WaitForPeerClose(int fd, int timeout_ms);

}  // namespace otaverify::testing

#endif  // OTAVERIFY_TESTS_TESTING_LOOPBACK_SERVER_H_

#include "tests/testing/loopback_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace otaverify::testing {

LoopbackServer::LoopbackServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(listen_fd_, 128);
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

LoopbackServer::~LoopbackServer() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  close(listen_fd_);
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (auto& w : workers) w.join();
}

void LoopbackServer::AcceptLoop() {
  while (!stopping_) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    connections_.fetch_add(1);
    absl::MutexLock lock(&mu_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] {
      handler_(fd);
      {
        absl::MutexLock lock(&mu_);
        open_fds_.erase(std::find(open_fds_.begin(), open_fds_.end(), fd));
      }
      close(fd);
    });
  }
}

bool ReadRequestHead(int fd, std::string* head) {
  std::string data;
  char c;
  while (data.size() < 65536) {
    const ssize_t n = read(fd, &c, 1);
    if (n <= 0) return false;
    data.push_back(c);
    if (data.size() >= 4 && data.compare(data.size() - 4, 4, "\r\n\r\n") == 0) {
      if (head != nullptr) *head = std::move(data);
      return true;
    }
  }
  return false;
}

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string HttpResponseText(int status, const std::string& body) {
  return absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Type: application/json\r\n",
                      "Content-Length: ", body.size(), "\r\nConnection: keep-alive\r\n\r\n", body);
}

void ResetConnection(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

bool WaitForPeerClose(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char c;
  return read(fd, &c, 1) <= 0;
}

}  // namespace otaverify::testing

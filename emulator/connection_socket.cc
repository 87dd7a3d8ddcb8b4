#include "emulator/connection_socket.h"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace otaverify {
namespace emulator {
namespace {

// Numeric host and port of one end of `fd`, formatted as httplib formats them (getnameinfo
// with NI_NUMERICHOST). False if `fd` is not a connected IP socket.
bool Endpoint(int fd, bool peer, std::string* host, int* port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  sockaddr* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len)) != 0) return false;
  if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) return false;
  char host_buf[NI_MAXHOST];
  char port_buf[NI_MAXSERV];
  if (getnameinfo(sa, len, host_buf, sizeof(host_buf), port_buf, sizeof(port_buf),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  *host = host_buf;
  *port = std::atoi(port_buf);
  return true;
}

}  // namespace

int FindConnectionSocket(const std::string& local_addr, int local_port,
                         const std::string& remote_addr, int remote_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  const int dir_fd = dirfd(dir);
  int found = -1;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dir_fd) continue;
    std::string host;
    int port = 0;
    if (!Endpoint(static_cast<int>(fd), false, &host, &port) || port != local_port ||
        host != local_addr) {
      continue;
    }
    if (!Endpoint(static_cast<int>(fd), true, &host, &port) || port != remote_port ||
        host != remote_addr) {
      continue;
    }
    found = static_cast<int>(fd);
    break;
  }
  closedir(dir);
  return found;
}

namespace {

// Closes the socket's only descriptor while keeping the number `fd` open (on /dev/null).
bool ReplaceWithDevNull(int fd) {
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return false;
  const bool ok = dup2(null_fd, fd) == fd;
  close(null_fd);
  return ok;
}

}  // namespace

bool ResetConnection(int fd) {
  // With linger {on, 0} closing sends RST, not FIN.
  const linger abort_on_close{1, 0};
  if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close)) != 0) {
    return false;
  }
  return ReplaceWithDevNull(fd);
}

}  // namespace emulator
}  // namespace otaverify

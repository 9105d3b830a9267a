#include "moxie/server/client_socket.h"

#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>

namespace moxie::server {
namespace {

bool endpoint_is(const sockaddr_storage& address, socklen_t length, const std::string& host, int port) {
  char text_host[NI_MAXHOST], text_port[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, text_host, sizeof text_host, text_port,
                  sizeof text_port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  return host == text_host && std::atoi(text_port) == port;
}

// Whether fd is a connected socket with exactly these two endpoints. A descriptor that
// closed (and was perhaps reused) since the directory was read simply does not match.
bool socket_matches(int fd, const std::string& local_addr, int local_port, const std::string& remote_addr,
                    int remote_port) {
  sockaddr_storage peer{}, self{};
  socklen_t peer_length = sizeof peer, self_length = sizeof self;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) return false;
  if (!endpoint_is(peer, peer_length, remote_addr, remote_port)) return false;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_length) != 0) return false;
  return endpoint_is(self, self_length, local_addr, local_port);
}

}  // namespace

int find_connection_socket(const std::string& local_addr, int local_port, const std::string& remote_addr,
                           int remote_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;  // "." and ".."
    if (socket_matches(int(fd), local_addr, local_port, remote_addr, remote_port)) {
      found = int(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

bool peer_closed(int fd) {
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;   // the peer's FIN: it will send nothing more
  if (n > 0) return false;   // bytes waiting (a pipelined request): still there
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;  // reset, or not a connection any more
}

}  // namespace moxie::server

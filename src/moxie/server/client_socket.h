#pragma once
// Whether the client of a request is still there, for answers that write nothing until
// they are complete (non-streaming completions). A streaming answer notices a client that
// left when a write fails; a whole answer has nothing to write until the end, and
// cpp-httplib 0.11 gives a handler neither the socket nor a "connection closed" flag. So
// the socket is found once by the connection's addresses, and then peeked at.
#include <string>

namespace moxie::server {

// The open socket whose local and peer endpoints are these (as the request reports them:
// numeric host and port), or -1 when none matches. Linux: scans /proc/self/fd. The socket
// stays owned by the HTTP library; it is valid while the request's handler runs.
int find_connection_socket(const std::string& local_addr, int local_port, const std::string& remote_addr,
                           int remote_port);

// True once the peer has closed the connection (orderly FIN, or reset), without consuming
// any byte. A client that half-closes its side after sending the request reads as gone.
bool peer_closed(int fd);

}  // namespace moxie::server

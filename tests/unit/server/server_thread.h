#pragma once
// An HttpServer for a test suite: bound to a free loopback port and serving on its own thread
// from construction; the destructor shuts it down and joins the thread.
#include <thread>
#include <vector>

#include "moxie/server/http_server.h"

namespace moxie::test {

class ServerThread {
 public:
  ServerThread(const std::vector<server::ModelSpec>& models, const server::ServerOptions& options)
      : server_(models, options), port_(server_.bind()), thread_([this] { server_.serve(); }) {}
  ~ServerThread() {
    server_.shutdown();
    thread_.join();
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  int port() const { return port_; }

 private:
  server::HttpServer server_;
  int port_;
  std::thread thread_;  // last: starts once the server is bound
};

}  // namespace moxie::test

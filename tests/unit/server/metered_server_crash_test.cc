// The built `moxie serve` binary in a child process, killed with SIGKILL while it streams an
// answer, then started again on the same database: every completed request's usage row is
// still there, and the open reservation of the killed stream is recovered at start-up
// (status interrupted, billed its prompt tokens at the input price); and a client that
// leaves a stream is billed what was computed for it (status cancelled). On SQLite and
// PostgreSQL.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>

#include "metered_server_fixture.h"

namespace moxie::server::testing {
namespace {

using namespace std::chrono_literals;

// A `moxie serve` child; its stderr goes to a file, where the test reads the port.
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& args, const std::string& log_path) : log_(log_path) {
    std::filesystem::remove(log_path);  // never read an earlier run's port
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log_path.c_str(), "w", stderr);
      (void)f;
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ServeProcess() { kill_and_wait(SIGKILL); }

  // The port from "moxie: serving on http://127.0.0.1:PORT", or 0 when it exited first.
  int wait_for_port() {
    const std::regex line("serving on http://[^:]+:([0-9]+)");
    for (auto deadline = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < deadline;) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, line)) return std::stoi(m[1]);
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return 0;
      }
      std::this_thread::sleep_for(50ms);
    }
    return 0;
  }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void kill_and_wait(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

// Sends a streaming request on a raw socket and returns the id in its first SSE event;
// the socket stays open (fd) and unread from then on.
// Connects and sends a request for 900 tokens of "small" on a raw socket (so the test
// decides when the client leaves); false when the server cannot be reached.
bool send_long_chat(int port, const std::string& auth, bool stream, int* fd) {
  *fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(*fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  const std::string body = json{{"model", "small"}, {"messages", {{{"role", "user"}, {"content", "tell me a long story"}}}},
                                {"max_tokens", 900}, {"stream", stream}, {"temperature", 0}}.dump();
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth +
                              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body;
  return write(*fd, request.data(), request.size()) == ssize_t(request.size());
}

std::string start_stream(int port, const std::string& auth, int* fd) {
  if (!send_long_chat(port, auth, /*stream=*/true, fd)) return {};
  std::string got;
  char buf[4096];
  const std::regex id("\"id\":\"([^\"]+)\"");
  std::smatch m;
  while (!std::regex_search(got, m, id)) {
    const ssize_t n = read(*fd, buf, sizeof buf);
    if (n <= 0) return {};
    got.append(buf, size_t(n));
  }
  return m[1];
}

TEST_P(MeteredServerTest, KilledServerKeepsCompletedRowsAndRecoversTheOpenReservation) {
  const std::string binary = std::string(MOXIE_BINARY_DIR) + "/moxie";
  ASSERT_EQ(access(binary.c_str(), X_OK), 0) << binary << " is not built (ninja moxie)";
  // The small preset: 1024 tokens of context, slow enough that 900 tokens outlast the kill.
  const std::string model = test::synth_model(*dir_, Arch::qwen3moe, "small", DType::F32, 7);
  const std::string prices = dir_->file("crash_prices.json");
  std::ofstream(prices) << R"({"models": {"small": {"input_per_million_usd": "10", "cached_input_per_million_usd": "2.5",
                                                    "output_per_million_usd": "30"}}})";
  const std::string key = bearer_for("crash");
  const std::vector<std::string> args = {binary,    "serve",    "-m",         model,    "--alias",  "small",
                                         "--port",  "0",        "--db",       db_->url(), "--auth", "required",
                                         "--prices", prices,    "--instance", "crashy", "-t",       "1"};
  std::vector<std::string> completed;
  int fd = -1;
  std::string streaming_id;
  {
    ServeProcess first(args, dir_->file("serve1.log"));
    port_ = first.wait_for_port();
    ASSERT_GT(port_, 0) << first.log();
    for (int i = 0; i < 3; ++i) {
      auto r = post("/v1/chat/completions", chat("small", 3), key);
      ASSERT_TRUE(r) << httplib::to_string(r.error()) << "\n" << first.log();
      ASSERT_EQ(r->status, 200) << r->body;
      completed.push_back(json::parse(r->body)["id"]);
    }
    streaming_id = start_stream(port_, key, &fd);
    first.kill_and_wait(SIGKILL);  // mid-stream: its reservation is open
  }
  close(fd);
  ASSERT_FALSE(streaming_id.empty());
  for (const std::string& id : completed)
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE request_id = ? AND status = 'completed'", {id}), 1) << id;
  ASSERT_EQ(scalar("SELECT COUNT(*) FROM reservations WHERE instance = 'crashy' AND request_id = ?", {streaming_id}), 1);
  const int64_t prompt = scalar("SELECT prompt_tokens FROM reservations WHERE request_id = ?", {streaming_id});

  ServeProcess second(args, dir_->file("serve2.log"));
  port_ = second.wait_for_port();
  ASSERT_GT(port_, 0) << second.log();
  EXPECT_NE(second.log().find("recovered 1 interrupted request"), std::string::npos) << second.log();
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE request_id = ? AND status = 'interrupted' AND prompt_tokens = ? "
                   "AND completion_tokens = 0 AND cost_nusd = ?",
                   {streaming_id, prompt, hand_cost(kFlagshipPrice, prompt, 0, 0)}),
            1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage"), 4);
  EXPECT_EQ(scalar("SELECT spent_nusd FROM api_keys WHERE name = 'crash'"), scalar("SELECT SUM(cost_nusd) FROM usage"));
  EXPECT_EQ(scalar("SELECT reserved_nusd FROM api_keys WHERE name = 'crash'"), 0);
  auto after = post("/v1/chat/completions", chat("small", 2), key);  // and it serves again
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  second.kill_and_wait(SIGTERM);
}

TEST_P(MeteredServerTest, ClientThatLeavesMidStreamIsBilledTheTokensComputedAsCancelled) {
  ModelSpec spec = tiny_spec("small");
  spec.path = test::synth_model(*dir_, Arch::qwen3moe, "small", DType::F32, 7);
  spec.engine.n_ctx = 1024;
  start(metering::AuthMode::required, [] {
    metering::PriceSheet p;
    p.set("small", kFlagshipPrice);
    return p;
  }(), {spec});
  const std::string key = bearer_for("leaver");
  int fd = -1;
  const std::string id = start_stream(port_, key, &fd);
  ASSERT_FALSE(id.empty());
  close(fd);  // gone after the first event; the server notices at its next write
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < deadline && scalar("SELECT COUNT(*) FROM usage WHERE request_id = ?", {id}) == 0;)
    std::this_thread::sleep_for(20ms);
  const metering::SqlRows rows = store_->read([&](metering::SqlDb& db) {
    return db.query("SELECT status, prompt_tokens, cached_tokens, completion_tokens, cost_nusd FROM usage WHERE request_id = ?",
                    {id});
  });
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(metering::as_text(rows[0][0]), "cancelled");
  const int64_t p = metering::as_int(rows[0][1]), c = metering::as_int(rows[0][2]), n = metering::as_int(rows[0][3]);
  EXPECT_GT(p, 0);
  EXPECT_GE(n, 1);
  EXPECT_LT(n, 900);
  EXPECT_EQ(metering::as_int(rows[0][4]), hand_cost(kFlagshipPrice, p, c, n));
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 0);
  EXPECT_EQ(gate_->open_requests(), 0u);
}

// The same for a whole (non-streaming) answer, where the server writes nothing until the
// end: it has to notice the closed socket itself, cancel the sequence and bill what was
// computed. The request waits behind another one for the only slot, so it cannot finish
// before the client is gone however fast the machine is.
TEST_P(MeteredServerTest, ClientThatLeavesANonStreamingRequestIsCancelledAndBilledAsCancelled) {
  ModelSpec spec = tiny_spec("small");
  spec.path = test::synth_model(*dir_, Arch::qwen3moe, "small", DType::F32, 7);
  spec.engine.n_ctx = 1024;
  spec.engine.n_parallel = 1;
  start(metering::AuthMode::required, [] {
    metering::PriceSheet p;
    p.set("small", kFlagshipPrice);
    return p;
  }(), {spec});
  const std::string key = bearer_for("leaver");
  auto wait_for = [&](const char* sql, int64_t count) {
    for (auto deadline = std::chrono::steady_clock::now() + 30s;
         std::chrono::steady_clock::now() < deadline && scalar(sql) != count;)
      std::this_thread::sleep_for(5ms);
    return scalar(sql) == count;
  };
  json long_chat = chat("small", 900);
  auto blocker = std::async(std::launch::async, [&] { return post("/v1/chat/completions", long_chat, key); });
  ASSERT_TRUE(wait_for("SELECT COUNT(*) FROM reservations", 1)) << "the first request was never admitted";
  int fd = -1;
  ASSERT_TRUE(send_long_chat(port_, key, /*stream=*/false, &fd));
  ASSERT_TRUE(wait_for("SELECT COUNT(*) FROM reservations", 2)) << "the second request was never admitted";
  close(fd);
  ASSERT_TRUE(wait_for("SELECT COUNT(*) FROM usage WHERE status = 'cancelled'", 1));
  const httplib::Result first = blocker.get();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  const metering::SqlRows rows = store_->read([&](metering::SqlDb& db) {
    return db.query("SELECT status, prompt_tokens, cached_tokens, completion_tokens, cost_nusd FROM usage "
                    "WHERE status = 'cancelled'", {});
  });
  ASSERT_EQ(rows.size(), 1u);
  const int64_t p = metering::as_int(rows[0][1]), c = metering::as_int(rows[0][2]), n = metering::as_int(rows[0][3]);
  EXPECT_GT(p, 0);
  EXPECT_LT(n, 900);
  EXPECT_EQ(metering::as_int(rows[0][4]), hand_cost(kFlagshipPrice, p, c, n));
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 0);
  EXPECT_EQ(gate_->open_requests(), 0u);
  auto next = post("/v1/chat/completions", chat("small", 2), key);  // the only slot is free again
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200) << next->body;
}

INSTANTIATE_TEST_SUITE_P(Backends, MeteredServerTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         metering::testing::backend_name);

}  // namespace
}  // namespace moxie::server::testing

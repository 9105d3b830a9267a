// A real HttpServer on a synthetic tiny model, on a loopback port, driven by cpp-httplib's
// client: OpenAI shapes, streaming, errors, a barrage of malformed requests after which a
// normal request still works, and shutdown.
#include "moxie/server/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "unit/model/model_test_util.h"
#include "unit/server/server_thread.h"

namespace moxie::server {
namespace {

using nlohmann::json;

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    ModelSpec spec{test::synth_model(*dir_, Arch::qwen3moe, "tiny", DType::F32, 5), "tiny", {}};
    spec.engine.n_parallel = 3;
    spec.engine.n_ctx = 128;
    spec.engine.n_threads = 1;
    spec.engine.max_queue = 16;
    ServerOptions o;
    o.port = 0;
    o.max_body_bytes = 64 << 10;
    o.read_timeout_s = 2;
    server_ = new test::ServerThread({spec}, o);
    port_ = server_->port();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  json post_ok(const std::string& path, const json& body) {
    auto r = client().Post(path.c_str(), body.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }
  static test::TempDir* dir_;
  static test::ServerThread* server_;
  static int port_;
};
test::TempDir* ServerTest::dir_ = nullptr;
test::ServerThread* ServerTest::server_ = nullptr;
int ServerTest::port_ = 0;

const json kChat = {{"messages", {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hi"}}}},
                    {"max_tokens", 6}, {"temperature", 0}};

TEST_F(ServerTest, ChatCompletionHasUsageAndFinishReason) {
  const json r = post_ok("/v1/chat/completions", kChat);
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["model"], "tiny");
  EXPECT_EQ(r["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(r["choices"][0]["finish_reason"] == "length" || r["choices"][0]["finish_reason"] == "stop");
  const json& u = r["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(u["total_tokens"], u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_TRUE(u["prompt_tokens_details"]["cached_tokens"].is_number());
  // The same prompt again reuses its prefix, and greedy gives the same answer.
  const json again = post_ok("/v1/chat/completions", kChat);
  EXPECT_GT(again["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 0);
  EXPECT_EQ(again["choices"][0]["message"]["content"], r["choices"][0]["message"]["content"]);
}

TEST_F(ServerTest, StreamingMatchesNonStreaming) {
  const json whole = post_ok("/v1/chat/completions", kChat);
  json body = kChat;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto r = client().Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::string text, finish;
  json usage;
  bool done = false;
  size_t pos = 0;
  while ((pos = r->body.find("data: ", pos)) != std::string::npos) {
    const size_t end = r->body.find("\n\n", pos);
    const std::string data = r->body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      done = true;
      break;
    }
    const json c = json::parse(data);
    if (!c["usage"].is_null()) usage = c["usage"];
    if (c["choices"].empty()) continue;
    text += c["choices"][0]["delta"].value("content", "");
    if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(text, whole["choices"][0]["message"]["content"]);
  EXPECT_EQ(finish, whole["choices"][0]["finish_reason"]);
  EXPECT_EQ(usage["completion_tokens"], whole["usage"]["completion_tokens"]);
}

TEST_F(ServerTest, ErrorsHaveOpenAiShapeAndStatus) {
  auto c = client();
  auto expect = [&](const std::string& path, const std::string& body, int status) {
    auto r = c.Post(path.c_str(), body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << body;
    const json j = json::parse(r->body);
    EXPECT_TRUE(j["error"]["message"].is_string()) << r->body;
  };
  expect("/v1/chat/completions", "{nope", 400);
  expect("/v1/chat/completions", R"({"model":"other","messages":[{"role":"user","content":"x"}]})", 404);
  expect("/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"max_tokens":500})", 400);
  expect("/v1/completions", R"({"prompt":"x","temperature":-1})", 400);
  expect("/v1/completions", std::string(100 << 10, ' '), 413);
  expect("/detokenize", R"({"tokens":[-1]})", 400);
  expect("/v1/nothing", "{}", 404);
}

TEST_F(ServerTest, SurvivesMalformedRequestsThenServes) {
  const std::string good = kChat.dump();
  auto c = client();
  int answered = 0;
  for (size_t cut = 0; cut < good.size(); cut += 3) {  // every truncation of a valid body
    auto r = c.Post("/v1/chat/completions", good.substr(0, cut), "application/json");
    if (r && r->status == 400) ++answered;
  }
  const std::vector<std::string> odd = {
      R"({"messages":"hi"})", R"({"messages":[null]})", R"({"messages":[{"role":"user","content":"x"}],"max_tokens":-5})",
      R"({"messages":[{"role":"user","content":"x"}],"top_k":1e308})", R"({"messages":[{"role":"user","content":"x"}],"seed":"s"})",
      std::string("{\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}"), "[]", "1", "\"str\"",
      R"({"messages":[{"role":"user","content":"x"}],"stop":{"a":1}})"};
  for (const std::string& b : odd) {
    auto r = c.Post("/v1/chat/completions", b, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << b;
  }
  // Raw sockets: broken HTTP, a body shorter than its Content-Length, then silence.
  for (const std::string raw : {std::string("GARBAGE\r\n\r\n"), std::string("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro")}) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_GT(write(fd, raw.data(), raw.size()), 0);
    close(fd);
  }
  EXPECT_GT(answered, int(good.size() / 3) - 2);
  const json r = post_ok("/v1/chat/completions", kChat);
  EXPECT_EQ(r["object"], "chat.completion");
}

TEST_F(ServerTest, ModelsHealthMetricsTokenize) {
  auto c = client();
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(m->body)["data"][0]["id"], "tiny");
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  const json t = post_ok("/tokenize", {{"content", "hello world"}});
  const json d = post_ok("/detokenize", {{"tokens", t["tokens"]}});
  EXPECT_EQ(d["content"], "hello world");
  post_ok("/v1/completions", {{"prompt", "abc"}, {"max_tokens", 3}, {"logprobs", 2}});
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* name : {"moxie_requests_total{model=\"tiny\",endpoint=\"completions\",status=\"200\"}",
                           "moxie_time_to_first_token_ms_bucket", "moxie_inter_token_latency_ms_count",
                           "moxie_queue_depth{model=\"tiny\"}", "moxie_active_sequences", "moxie_tokens_per_second",
                           "moxie_cached_prompt_tokens_total"})
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
}

}  // namespace
}  // namespace moxie::server

// response_format {"type": "json_object"} through a real HttpServer on a synthetic model with
// random weights, driven by cpp-httplib's client: finished answers parse (nlohmann) as
// objects with finish_reason "stop", streaming gives the same text, answers cut by
// max_tokens say "length" and are still valid prefixes, and json_schema is refused (400).
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "unit/model/model_test_util.h"
#include "unit/server/server_thread.h"
#include "moxie/runtime/sampler/json_recognizer.h"
#include "moxie/server/http_server.h"
#include "moxie/tokenizer/gguf_tokenizer.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::server {
namespace {

using nlohmann::json;

class JsonModeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    const std::string path = test::synth_model(*dir_, Arch::qwen3moe, "tiny", DType::F32, 7);
    // Steer the random model towards closing strings and containers so answers end.
    const auto model = Model::open(path);
    const tokenizer::Tokenizer tok(tokenizer::load_gguf_tokenizer(model->file()));
    bias_ = new json(json::object());
    for (int32_t t = 0; t < tok.n_vocab(); ++t) {
      const std::string_view b = tok.token_bytes(t);
      if (!tok.is_special(t) && !b.empty() && b.find_first_of("\"}]") != std::string_view::npos)
        (*bias_)[std::to_string(t)] = 6;
    }
    ModelSpec spec{path, "tiny", {}};
    spec.engine.n_parallel = 2;
    spec.engine.n_ctx = 256;
    spec.engine.n_threads = 1;
    ServerOptions o;
    o.port = 0;
    server_ = new test::ServerThread({spec}, o);
    port_ = server_->port();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete bias_;
    delete dir_;
  }
  static json request(uint64_t seed, double temperature, int max_tokens) {
    return {{"messages", {{{"role", "user"}, {"content", "Answer in JSON."}}}},
            {"response_format", {{"type", "json_object"}}},
            {"max_tokens", max_tokens},
            {"temperature", temperature},
            {"seed", seed},
            {"logit_bias", *bias_}};
  }
  static httplib::Result post(const json& body) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c.Post("/v1/chat/completions", body.dump(), "application/json");
  }
  // The concatenated content deltas and the finish_reason of an SSE body.
  static std::pair<std::string, std::string> read_stream(const std::string& body) {
    std::string text, finish;
    size_t pos = 0;
    while ((pos = body.find("data: ", pos)) != std::string::npos) {
      const size_t end = body.find("\n\n", pos);
      const std::string data = body.substr(pos + 6, end - pos - 6);
      pos = end;
      if (data == "[DONE]") break;
      const json c = json::parse(data);
      if (c["choices"].empty()) continue;
      text += c["choices"][0]["delta"].value("content", "");
      if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
    }
    return {text, finish};
  }
  static test::TempDir* dir_;
  static test::ServerThread* server_;
  static json* bias_;
  static int port_;
};
test::TempDir* JsonModeTest::dir_ = nullptr;
test::ServerThread* JsonModeTest::server_ = nullptr;
json* JsonModeTest::bias_ = nullptr;
int JsonModeTest::port_ = 0;

TEST_F(JsonModeTest, AnswersAreObjectsAndStreamingAgrees) {
  int n_stop = 0;
  for (uint64_t seed : {1u, 2u, 3u, 4u}) {
    for (double temperature : {0.0, 0.8, 1.6}) {
      const json body = request(seed, temperature, 200);
      auto r = post(body);
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
      const json whole = json::parse(r->body);
      const std::string content = whole["choices"][0]["message"]["content"];
      const std::string finish = whole["choices"][0]["finish_reason"];
      const std::string where = "seed " + std::to_string(seed) + " t=" + std::to_string(temperature) + ": " + content;
      JsonRecognizer prefix;
      ASSERT_TRUE(prefix.push(content)) << where;
      if (finish == "stop") {
        ++n_stop;
        ASSERT_TRUE(json::accept(content)) << where;
        EXPECT_TRUE(json::parse(content).is_object()) << where;
      } else {
        EXPECT_EQ(finish, "length") << where;
        EXPECT_EQ(whole["usage"]["completion_tokens"], 200) << where;
      }
      json streamed = body;
      streamed["stream"] = true;
      auto s = post(streamed);
      ASSERT_TRUE(s);
      ASSERT_EQ(s->status, 200) << s->body;
      const auto [text, stream_finish] = read_stream(s->body);
      EXPECT_EQ(text, content) << where;
      EXPECT_EQ(stream_finish, finish) << where;
    }
  }
  EXPECT_GE(n_stop, 8);
}

TEST_F(JsonModeTest, MaxTokensCutIsLengthAndAValidPrefix) {
  auto r = post(request(5, 1.0, 3));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json whole = json::parse(r->body);
  const std::string content = whole["choices"][0]["message"]["content"];
  JsonRecognizer prefix;
  EXPECT_TRUE(prefix.push(content)) << content;
  EXPECT_EQ(whole["choices"][0]["finish_reason"], prefix.complete() ? "stop" : "length") << content;
}

TEST_F(JsonModeTest, JsonSchemaIsRefused) {
  json body = request(1, 0.0, 8);
  body["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", json::object()}}}};
  auto r = post(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "response_format.type") << r->body;
}

}  // namespace
}  // namespace moxie::server

// Run config TOML, task JSONL, scoring rules and the endpoint's retries: hand-worked cases,
// and bad input refused with a moxie::Error that names the place.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "moxie/core/error.h"
#include "moxie/eval/openai_backend.h"
#include "moxie/eval/prompt.h"
#include "moxie/eval/run_config.h"
#include "moxie/eval/scoring.h"
#include "moxie/eval/toml_subset.h"

namespace moxie::eval {
namespace {

void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no error; wanted one containing " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Toml, TablesArraysAndValues) {
  const auto j = parse_toml("a = 1_000 # c\nb = \"x\\ty\\u00e9\"\nc = [1, 2.5,\n 'lit\\n', true]\n[[m]]\nn = -3\n[[m]]\nn = 4\n[t.u]\nv = false\n", "t");
  EXPECT_EQ(j["a"], 1000);
  EXPECT_EQ(j["b"], "x\ty\xc3\xa9");
  EXPECT_EQ(j["c"][1], 2.5);
  EXPECT_EQ(j["c"][2], "lit\\n");
  EXPECT_EQ(j["m"][1]["n"], 4);
  EXPECT_EQ(j["t"]["u"]["v"], false);
  expect_error([] { parse_toml("a = 1\na = 2\n", "f.toml"); }, "f.toml:2: key 'a' defined twice");
  expect_error([] { parse_toml("a = \"open\n", "f.toml"); }, "f.toml:1: unterminated string");
  expect_error([] { parse_toml("a = 1979-05-27\n", "f.toml"); }, "f.toml:1: cannot read value");
  expect_error([] { parse_toml("a = {b = 1}\n", "f.toml"); }, "inline tables");
}

TEST(RunConfig, KeysAreCheckedByName) {
  const std::string task = "[[tasks]]\nname = \"t\"\npath = \"t.jsonl\"\n";
  const RunConfig c = parse_run_config("[[models]]\nname = \"m\"\ngguf = \"m.gguf\"\ninput_per_million_usd = \"0.14\"\n" + task,
                                       "r.toml", "/base");
  EXPECT_EQ(c.models[0].gguf, "/base/m.gguf");
  EXPECT_EQ(c.models[0].price.input_per_million, 140'000'000);
  EXPECT_EQ(c.tasks[0].path, "/base/t.jsonl");
  expect_error([&] { parse_run_config("[[models]]\nname = \"m\"\n" + task, "r.toml", "/"); }, "r.toml: models[0]: needs exactly one of gguf");
  expect_error([&] { parse_run_config("[[models]]\nname = \"m\"\ngguf = \"x\"\ncolour = 1\n" + task, "r.toml", "/"); },
               "models[0].colour: unknown key");
  expect_error([&] { parse_run_config("[[models]]\nname = \"m\"\ngguf = \"x\"\ninput_per_million_usd = 0.14\n" + task, "r.toml", "/"); },
               "input_per_million_usd: must be a quoted dollar amount");
  expect_error([] { parse_run_config("[[models]]\nname = \"m\"\ngguf = \"x\"\n", "r.toml", "/"); }, "r.toml.tasks: needs at least one");
}

TEST(TaskFile, ShapesAndErrors) {
  TaskSpec s;
  s.kind = TaskKind::multiple_choice;
  s.num_fewshot = 1;
  const Task t = parse_task(s,
                            "{\"id\": \"e\", \"fewshot\": true, \"context\": \"Q1:\", \"choices\": [\" a\", \" b\"], \"answer\": 1}\n\n"
                            "{\"id\": 7, \"context\": \"Q2:\", \"choices\": [\" c\", \" d\"], \"answer\": 0}\n",
                            "t.jsonl");
  ASSERT_EQ(t.questions.size(), 1u);
  EXPECT_EQ(t.questions[0].id, "7");
  EXPECT_EQ(build_prompt(t, t.questions[0]).text, "Q1: b\n\nQ2:");
  expect_error([&] { parse_task(s, "{\"context\": \"x\", \"choices\": [\"a\", \"b\"], \"answer\": 2}\n", "t.jsonl"); },
               "t.jsonl:1: \"answer\" 2 is out of range");
  expect_error([&] { parse_task(s, "{\"context\": \"x\"\n", "t.jsonl"); }, "t.jsonl:1: not JSON");
  s.num_fewshot = 0;
  expect_error([&] {
    parse_task(s, "{\"id\": 1, \"context\": \"x\", \"choices\": [\"a\", \"b\"], \"answer\": 1}\n{\"id\": \"1\", \"context\": \"x\", \"choices\": [\"a\", \"b\"], \"answer\": 1}\n", "t.jsonl");
  }, "t.jsonl:2: duplicate id '1'");
}

TEST(Scoring, HandWorkedCases) {
  // acc picks -2.0 (" b"); per byte " a long one" wins: -3/11 > -2/2.
  const ChoicePick p = pick_choice({-3.0, -2.0}, {" a long one", " b"});
  EXPECT_EQ(p.pred, 1);
  EXPECT_EQ(p.pred_norm, 0);
  EXPECT_EQ(extract_answer("(-?[0-9][0-9,]*)", "3 + 4 = 7. The answer is 1,250.").value(), "1,250");
  EXPECT_FALSE(extract_answer("([0-9]+)", "no digits").has_value());
  EXPECT_TRUE(answers_match(" $1,250. ", "1250"));
  EXPECT_FALSE(answers_match("125", "1250"));
  expect_error([] { extract_answer("(", "x"); }, "answer_regex '(' does not compile");
  const MeanStderr m = mean_stderr({1, 0, 1, 1});  // mean 0.75, sample var 0.25, stderr sqrt(0.25/4)
  EXPECT_DOUBLE_EQ(m.mean, 0.75);
  EXPECT_DOUBLE_EQ(m.stderr_, 0.25);
}

TEST(Endpoint, RetriesOn429And503ThenSucceeds) {
  httplib::Server server;
  std::atomic<int> calls{0};
  server.Post("/v1/completions", [&](const httplib::Request& q, httplib::Response& r) {
    const int n = ++calls;
    if (n == 1) {
      r.status = 429;
      r.set_header("Retry-After", "0");
    } else if (n == 2) {
      r.status = 503;
    } else {
      EXPECT_EQ(nlohmann::json::parse(q.body)["prompt"], "2+2=");
      r.set_content(R"({"choices":[{"text":" 4"}],"usage":{"prompt_tokens":5,"completion_tokens":2}})", "application/json");
    }
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  EndpointOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.model = "m";
  o.backoff_ms = 1;
  OpenAiBackend b(o);
  Prompt p;
  p.text = "2+2=";
  const Generation g = b.generate(p, 4, {});
  EXPECT_EQ(g.text, " 4");
  EXPECT_EQ(g.prompt_tokens, 5);
  EXPECT_EQ(calls.load(), 3);
  o.max_retries = 0;
  OpenAiBackend once(o);
  calls = 0;
  expect_error([&] { once.generate(p, 4, {}); }, "failed after 1 tries: status 429");
  server.stop();
  t.join();
  EndpointOptions bad;
  bad.url = "ftp://x";
  expect_error([&] { OpenAiBackend{bad}; }, "must be http(s)://host");
}

}  // namespace
}  // namespace moxie::eval

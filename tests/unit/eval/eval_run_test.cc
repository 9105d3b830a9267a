// `moxie eval` end to end in-process: one run config against two local synthetic models and
// a moxie serve endpoint (a real HttpServer on a loopback port); checks the table, the
// results JSON, the chart PNG and costs against integers computed here from the token
// counts and the price sheet. A run killed with SIGKILL mid-way and resumed ends with the
// same records as an uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "moxie/eval/run_config.h"
#include "moxie/eval/run_eval.h"
#include "moxie/server/http_server.h"
#include "unit/model/model_test_util.h"

namespace moxie::eval {
namespace {

using nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tasks_toml() {
  const std::string dir = std::string(MOXIE_SOURCE_DIR) + "/eval/tasks/";
  return "[[tasks]]\nname = \"colors\"\ntype = \"multiple_choice\"\npath = \"" + dir +
         "colors_mc.jsonl\"\nnum_fewshot = 2\n\n"
         "[[tasks]]\nname = \"arith\"\ntype = \"generative\"\npath = \"" + dir +
         "arithmetic_gen.jsonl\"\nnum_fewshot = 1\nmax_tokens = 8\nstop = [\"\\n\"]\n\n"
         "[[tasks]]\nname = \"prose\"\ntype = \"perplexity\"\npath = \"" + dir + "prose_ppl.jsonl\"\n";
}

std::string local_models_toml(const std::string& a, const std::string& b) {
  return "[[models]]\nname = \"small-a\"\ngguf = \"" + a +
         "\"\ninput_per_million_usd = \"0.15\"\noutput_per_million_usd = \"0.6\"\n\n"
         "[[models]]\nname = \"small-b\"\ngguf = \"" + b +
         "\"\ninput_per_million_usd = \"2.5\"\noutput_per_million_usd = \"10\"\n\n";
}

// Records without their timing, for comparing runs.
std::vector<json> records_without_time(const std::string& results_path) {
  std::vector<json> out;
  const json results = json::parse(read_file(results_path));  // a range-for over a temporary's member dangles
  for (json r : results["records"]) {
    r.erase("wall_s");
    out.push_back(r);
  }
  return out;
}

TEST(EvalRun, KilledRunResumesToTheSameResults) {
  test::TempDir dir;
  const std::string a = test::synth_model(dir, Arch::qwen3moe, "tiny", DType::F32, 21);
  const std::string b = test::synth_model(dir, Arch::qwen2moe, "tiny", DType::F32, 22);
  const std::string models = local_models_toml(a, b);
  const RunConfig whole = parse_run_config("output = \"whole\"\nthreads = 1\n" + models + tasks_toml(), "whole.toml", dir.file(""));
  const RunConfig killed = parse_run_config("output = \"killed\"\nthreads = 1\n" + models + tasks_toml(), "killed.toml", dir.file(""));

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // killed hard after its 9th question, between two questions of one task
    run_eval(killed, [](const Progress& p) {
      if (p.done_this_run == 9) raise(SIGKILL);
    });
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  const std::string journal = killed.output_dir + "/journal.jsonl";
  {
    std::ofstream torn(journal, std::ios::app);
    torn << "{\"model\": \"small-a\", \"task\": \"col";  // as if killed mid-write
  }
  int64_t resumed_questions = 0;
  const EvalOutcome resumed = run_eval(killed, [&](const Progress& p) { resumed_questions = p.done_this_run; });
  const EvalOutcome full = run_eval(whole, {});
  EXPECT_EQ(resumed_questions, 2 * (6 + 5 + 3) - 9);  // nothing redone, nothing lost
  EXPECT_EQ(records_without_time(resumed.results_path), records_without_time(full.results_path));
  std::istringstream lines(read_file(journal));
  int n_lines = 0;
  for (std::string l; std::getline(lines, l);) ++n_lines;
  EXPECT_EQ(n_lines, 1 + 2 * (6 + 5 + 3));  // the settings line and one line per question
}

TEST(EvalRun, TwoLocalModelsAndAServeEndpoint) {
  test::TempDir dir;
  const std::string a = test::synth_model(dir, Arch::qwen3moe, "tiny", DType::F32, 21);
  const std::string b = test::synth_model(dir, Arch::deepseek2, "tiny", DType::F32, 23);
  server::ModelSpec spec{test::synth_model(dir, Arch::qwen3moe, "tiny", DType::F32, 24), "served-tiny", {}};
  spec.engine.n_parallel = 2;
  spec.engine.n_ctx = 256;
  spec.engine.n_threads = 1;
  server::ServerOptions so;
  so.port = 0;
  server::HttpServer server({spec}, so);
  const int port = server.bind();
  std::thread serving([&] { server.serve(); });

  const std::string toml = "output = \"out\"\nthreads = 1\n" + local_models_toml(a, b) +
                           "[[models]]\nname = \"endpoint\"\nurl = \"http://127.0.0.1:" + std::to_string(port) +
                           "/v1\"\napi_model = \"served-tiny\"\nconcurrency = 3\n"
                           "input_per_million_usd = \"0.000001\"\noutput_per_million_usd = \"1.000003\"\n\n" +
                           tasks_toml();
  const RunConfig config = parse_run_config(toml, "run.toml", dir.file(""));
  EvalOutcome o;
  try {
    o = run_eval(config, {});
  } catch (...) {
    server.shutdown();
    serving.join();
    throw;
  }
  server.shutdown();
  serving.join();
  std::printf("%s", o.table.c_str());

  // The table: a header and one row per model; the endpoint cannot score choices or text.
  std::istringstream table(o.table);
  std::vector<std::string> rows;
  for (std::string l; std::getline(table, l);) rows.push_back(l);
  ASSERT_EQ(rows.size(), 4u);
  for (const char* h : {"model", "colors", "arith", "prose", "prompt tok", "compl tok", "wall s", "tok/s", "cost $", "$/1k q"})
    EXPECT_NE(rows[0].find(h), std::string::npos) << h;
  EXPECT_EQ(rows[1].rfind("small-a", 0), 0u);
  EXPECT_NE(rows[1].find("ppl "), std::string::npos);
  EXPECT_EQ(rows[3].rfind("endpoint", 0), 0u);
  EXPECT_NE(rows[3].find("n/a"), std::string::npos);
  EXPECT_EQ(read_file(o.table_path), o.table);

  // The JSON: settings, per-model totals, every record; costs from the price sheet by hand:
  // per question ceil(prompt * in + completion * out) with prices in nano-dollars per million.
  const json r = json::parse(read_file(o.results_path));
  ASSERT_EQ(r["models"].size(), 3u);
  EXPECT_EQ(r["settings"]["tasks"][0]["num_fewshot"], 2);
  EXPECT_EQ(r["records"].size(), size_t(2 * (6 + 5 + 3) + 5));
  const std::map<std::string, std::pair<int64_t, int64_t>> price = {  // nano-dollars per million tokens
      {"small-a", {150'000'000, 600'000'000}}, {"small-b", {2'500'000'000, 10'000'000'000}}, {"endpoint", {1'000, 1'000'003'000}}};
  std::map<std::string, int64_t> total, prompt, completion, questions;
  for (const json& rec : r["records"]) {
    const std::string m = rec["model"];
    const int64_t p = rec["prompt_tokens"], c = rec["completion_tokens"];
    const int64_t micro = p * price.at(m).first + c * price.at(m).second;  // 1e-6 nano-dollars
    EXPECT_EQ(rec["cost_nanodollars"].get<int64_t>(), (micro + 999'999) / 1'000'000) << rec.dump();
    total[m] += (micro + 999'999) / 1'000'000;
    prompt[m] += p;
    completion[m] += c;
    ++questions[m];
    if (m == "endpoint") EXPECT_EQ(rec["type"], "generative");
  }
  for (const json& m : r["models"]) {
    const std::string name = m["name"];
    EXPECT_EQ(m["cost_nanodollars"].get<int64_t>(), total[name]) << name;
    EXPECT_EQ(m["prompt_tokens"].get<int64_t>(), prompt[name]);
    EXPECT_EQ(m["completion_tokens"].get<int64_t>(), completion[name]);
    EXPECT_EQ(m["cost_per_1000_questions_nanodollars"].get<int64_t>(), (total[name] * 1000 + questions[name] - 1) / questions[name]);
    EXPECT_GT(completion[name], 0);
  }
  EXPECT_FALSE(r["models"][2]["tasks"]["colors"]["ran"]);
  const json& acc = r["models"][0]["tasks"]["colors"];
  EXPECT_EQ(acc["n"], 6);
  EXPECT_GE(acc["score"].get<double>(), 0.0);

  // The chart: a PNG of 800x500 pixels (signature, then IHDR's big-endian width and height).
  ASSERT_FALSE(o.chart_path.empty()) << o.chart_error;
  const std::string png = read_file(o.chart_path);
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3]));
  };
  EXPECT_EQ(be32(16), 800u);
  EXPECT_EQ(be32(20), 500u);
}

}  // namespace
}  // namespace moxie::eval

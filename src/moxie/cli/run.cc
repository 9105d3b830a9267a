// moxie run -m FILE.gguf -p TEXT [-n N] [--temp T] [--seed S] [--top-k K] ... [--chat]
//           [--system TEXT] [--json] [-t N] [-c N] [--warmup] [--mlock]
// Streams the completion of a prompt to stdout; --chat wraps the prompt in the model's chat
// template as one user message. --json prints nothing while generating and one JSON object
// at the end: prompt and generated token ids, the text, and each generated token's logprob
// with its top alternatives (for comparisons against other engines). Timings go to stderr.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "moxie/cli/commands.h"
#include "moxie/cli/generation_options.h"
#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/runtime/generate.h"
#include "moxie/runtime/loaded_model.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::cli {
namespace {

using ojson = nlohmann::ordered_json;

struct RunArgs {
  ModelArgs model;
  SamplingArgs sampling;
  std::string prompt, prompt_file, system;
  bool chat = false, json = false;
  int32_t top_logprobs = 5;
};

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("run: cannot open the prompt file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<int32_t> encode_prompt(const RunArgs& a, const LoadedModel& m, std::string* prompt_text) {
  std::string text = a.prompt_file.empty() ? a.prompt : read_text_file(a.prompt_file);
  if (a.chat) {
    ojson messages = ojson::array();
    if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
    messages.push_back({{"role", "user"}, {"content", text}});
    text = m.render_chat(messages, true);
  } else if (!a.system.empty()) {
    throw Error("run: --system needs --chat");
  }
  std::vector<int32_t> ids = a.chat ? m.tokenizer().encode(text, {.add_special = false, .parse_special = true})
                                    : m.encode_text(text);
  if (ids.empty()) throw Error("run: the prompt is empty (it encodes to no tokens)");
  *prompt_text = std::move(text);
  return ids;
}

ojson token_entry(const tokenizer::Tokenizer& tok, int32_t id, float logprob) {
  return {{"token", id}, {"text", std::string(tok.token_bytes(id))}, {"logprob", logprob}};
}

ojson result_json(const RunArgs& a, const LoadedModel& m, const std::string& prompt, const std::vector<int32_t>& ids,
                  const GenerateResult& r) {
  const tokenizer::Tokenizer& tok = m.tokenizer();
  ojson tokens = ojson::array(), logprobs = ojson::array();
  for (const SampledToken& t : r.tokens) {
    tokens.push_back(t.token);
    ojson entry = token_entry(tok, t.token, t.logprob);
    ojson top = ojson::array();
    for (const TokenLogprob& alt : t.top) top.push_back(token_entry(tok, alt.token, alt.logprob));
    entry["top_logprobs"] = std::move(top);
    logprobs.push_back(std::move(entry));
  }
  const GenerateStats& s = r.stats;
  return {{"model", a.model.path},
          {"prompt", prompt},
          {"prompt_tokens", ids},
          {"tokens", std::move(tokens)},
          {"text", r.text},
          {"finish_reason", finish_reason_name(r.finish)},
          {"logprobs", std::move(logprobs)},
          {"timings",
           {{"load_ms", m.load_ms()},
            {"prompt_n", s.n_prefilled},
            {"prompt_ms", s.prefill_ms},
            {"prompt_per_second", s.prefill_tokens_per_s()},
            {"predicted_n", s.n_generated},
            {"decode_n", s.n_decoded},
            {"decode_ms", s.decode_ms},
            {"predicted_per_second", s.decode_tokens_per_s()}}}};
}

int run_run(const RunArgs& a) {
  if (a.prompt.empty() == a.prompt_file.empty()) throw Error("run: give exactly one of -p/--prompt and -f/--file");
  LoadedModel m = load_model(a.model);
  std::string prompt;
  const std::vector<int32_t> ids = encode_prompt(a, m, &prompt);
  GenerateOptions o = make_generate_options(a.sampling, m);
  o.sampling.n_top_logprobs = a.json ? a.top_logprobs : 0;
  ThreadPool pool(thread_count(a.model.threads));
  Generator gen(m.model(), m.tokenizer(), pool, context_size(a.model, m), 512, a.model.kv_type());
  TextSink sink;
  if (!a.json) {
    sink = [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
  }
  const GenerateResult r = gen.generate(ids, o, sink);
  if (a.json) {
    const std::string out = result_json(a, m, prompt, ids, r).dump(-1, ' ', false, ojson::error_handler_t::replace);
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("\n");
  }
  std::fflush(stdout);
  print_stats(stderr, m.load_ms(), r.stats);
  return 0;
}

}  // namespace

void register_run(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Generate a completion of a prompt and stream it to stdout");
  auto args = std::make_shared<RunArgs>();
  add_model_options(*cmd, args->model, false);
  cmd->add_option("-p,--prompt", args->prompt, "prompt text");
  cmd->add_option("-f,--file", args->prompt_file, "read the prompt from this file");
  cmd->add_flag("--chat", args->chat, "apply the model's chat template (the prompt is one user message)");
  cmd->add_option("--system", args->system, "system message (with --chat)");
  cmd->add_flag("--json", args->json, "print one JSON object at the end instead of streaming text");
  cmd->add_option("--top-logprobs", args->top_logprobs, "alternatives per token in --json output")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  add_sampling_options(*cmd, args->sampling);
  cmd->callback([args] { set_action([args] { return run_run(*args); }); });
}

}  // namespace moxie::cli

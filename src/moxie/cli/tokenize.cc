// moxie tokenize (-m FILE.gguf | --tokenizer tokenizer.json) [--text S | --stdin] [--json]
//                [--no-bos] [--no-parse-special]
// Text mode prints one line per token: the id and the piece it stands for (as a JSON
// string, so spaces and partial UTF-8 are visible). With --json, each stdin line is a
// JSON-encoded string and the output is one JSON array of ids per line (or one array for
// --text), which is what scripts comparing against other tokenizers want.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "moxie/cli/commands.h"
#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/tokenizer/gguf_tokenizer.h"
#include "moxie/tokenizer/hf_tokenizer_json.h"
#include "moxie/tokenizer/stream_decoder.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::cli {
namespace {

struct TokenizeOptions {
  std::string model_path;
  std::string tokenizer_path;
  std::string text;
  bool from_stdin = false;
  bool json = false;
  bool no_bos = false;
  bool no_parse_special = false;
};

tokenizer::Tokenizer load(const TokenizeOptions& o) {
  if (!o.model_path.empty()) {
    const GgufFile file = GgufFile::open(o.model_path);
    return tokenizer::Tokenizer(tokenizer::load_gguf_tokenizer(file));
  }
  return tokenizer::Tokenizer(tokenizer::load_hf_tokenizer_json(o.tokenizer_path));
}

std::string ids_json(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

void print_pieces(const tokenizer::Tokenizer& tok, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) {
    std::string piece;
    tokenizer::append_valid_utf8(std::string(tok.token_bytes(id)), false, &piece);
    std::printf("%d\t%s\n", id, nlohmann::json(piece).dump().c_str());
  }
  std::printf("%zu tokens\n", ids.size());
}

// --json --stdin: one JSON string per line in, one JSON array of ids per line out.
int run_json_lines(const tokenizer::Tokenizer& tok, const tokenizer::EncodeOptions& eo) {
  std::string line;
  for (size_t line_no = 1; std::getline(std::cin, line); ++line_no) {
    if (line.empty()) continue;
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error("stdin line " + std::to_string(line_no) + ": not valid JSON at byte " + std::to_string(e.byte));
    }
    if (!value.is_string()) throw Error("stdin line " + std::to_string(line_no) + ": expected a JSON string");
    std::printf("%s\n", ids_json(tok.encode(value.get<std::string>(), eo)).c_str());
  }
  return 0;
}

int run_tokenize(const TokenizeOptions& o) {
  if (o.model_path.empty() == o.tokenizer_path.empty()) throw Error("tokenize: give exactly one of -m or --tokenizer");
  if (o.from_stdin == !o.text.empty()) throw Error("tokenize: give exactly one of --text S or --stdin");
  const tokenizer::Tokenizer tok = load(o);
  const tokenizer::EncodeOptions eo{.add_special = !o.no_bos, .parse_special = !o.no_parse_special};
  if (o.from_stdin && o.json) return run_json_lines(tok, eo);
  const std::string text =
      o.from_stdin ? std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()) : o.text;
  const std::vector<int32_t> ids = tok.encode(text, eo);
  if (o.json) std::printf("%s\n", ids_json(ids).c_str());
  else print_pieces(tok, ids);
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids (and pieces) of text");
  auto* m = cmd->add_option("-m,--model", opts->model_path, "GGUF model whose tokenizer to use");
  auto* t = cmd->add_option("--tokenizer", opts->tokenizer_path, "Hugging Face tokenizer.json");
  m->excludes(t);
  auto* text = cmd->add_option("--text", opts->text, "Text to tokenize");
  auto* in = cmd->add_flag("--stdin", opts->from_stdin, "Read the text from stdin (with --json: one JSON string per line)");
  text->excludes(in);
  cmd->add_flag("--json", opts->json, "Print JSON arrays of ids");
  cmd->add_flag("--no-bos", opts->no_bos, "Do not add BOS/EOS even where the tokenizer's config asks");
  cmd->add_flag("--no-parse-special", opts->no_parse_special, "Treat special-token text as plain text");
  cmd->callback([opts] { set_action([opts] { return run_tokenize(*opts); }); });
}

}  // namespace moxie::cli

// moxie template (-m FILE.gguf | --tokenizer-config tokenizer_config.json |
//                 --template FILE.jinja | --builtin NAME) --messages FILE.json
//                [--tools FILE.json] [--kwargs JSON] [--add-generation-prompt]
// Prints the prompt the chat template renders for the messages, exactly as Hugging Face's
// apply_chat_template would. --messages takes a JSON array of messages, or an object with
// "messages" (and optionally "tools"). A file without a template falls back to the
// built-in one for its architecture (chatml, deepseek), with a note on stderr.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "moxie/cli/commands.h"
#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/tokenizer/template/chat_template.h"

namespace moxie::cli {
namespace {

using ojson = nlohmann::ordered_json;

struct TemplateOptions {
  std::string model_path;
  std::string tokenizer_config_path;
  std::string template_path;
  std::string builtin_name;
  std::string messages_path;
  std::string tools_path;
  std::string kwargs_json;
  bool add_generation_prompt = false;
};

// The template source plus the special tokens the template sees as variables.
struct TemplateSource {
  std::string text;
  ojson special_tokens = ojson::object();
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ojson parse_json(const std::string& text, const std::string& what) {
  try {
    return ojson::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": invalid JSON: " + e.what());
  }
}

// tokenizer_config.json writes special tokens as strings or as AddedToken objects.
void add_config_token(const ojson& config, const char* key, ojson& out) {
  auto it = config.find(key);
  if (it == config.end()) return;
  if (it->is_string()) out[key] = *it;
  else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) out[key] = (*it)["content"];
}

TemplateSource from_tokenizer_config(const std::string& path) {
  ojson config = parse_json(read_file(path), path);
  if (!config.is_object()) throw Error(path + ": expected a JSON object");
  TemplateSource source;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) add_config_token(config, key, source.special_tokens);
  auto it = config.find("chat_template");
  if (it != config.end() && it->is_string()) {
    source.text = it->get<std::string>();
  } else if (it != config.end() && it->is_array()) {  // [{"name": "default", "template": ...}, ...]
    for (const auto& entry : *it)
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template"))
        source.text = entry["template"].get<std::string>();
    if (source.text.empty()) throw Error(path + ": chat_template list has no 'default' entry");
  } else if (it != config.end() && !it->is_null()) {
    throw Error(path + ": key 'chat_template' must be a string or a list of named templates");
  }
  if (source.text.empty()) {
    std::fprintf(stderr, "moxie: %s has no chat_template; using the built-in chatml template\n", path.c_str());
    source.text = builtin_chat_template("chatml");
  }
  return source;
}

TemplateSource from_gguf(const std::string& path) {
  const GgufFile file = GgufFile::open(path);
  TemplateSource source;
  auto tokens = file.find("tokenizer.ggml.tokens") ? file.get_string_array("tokenizer.ggml.tokens")
                                                   : std::span<const std::string_view>{};
  auto add_token = [&](const char* id_key, const char* name) {
    std::optional<uint32_t> id = file.opt_u32(id_key);
    if (!id) return;
    if (*id >= tokens.size())
      throw Error(path + ": key '" + id_key + "' = " + std::to_string(*id) + " is not a token id (vocabulary has " +
                  std::to_string(tokens.size()) + ")");
    source.special_tokens[name] = std::string(tokens[*id]);
  };
  add_token("tokenizer.ggml.bos_token_id", "bos_token");
  add_token("tokenizer.ggml.eos_token_id", "eos_token");
  if (auto text = file.opt_string("tokenizer.chat_template"); text && !text->empty()) {
    source.text = std::string(*text);
    return source;
  }
  std::string arch(file.opt_string("general.architecture").value_or(""));
  std::string_view fallback = builtin_chat_template_for_architecture(arch);
  std::fprintf(stderr, "moxie: %s has no tokenizer.chat_template; using the built-in %s template\n", path.c_str(),
               fallback == builtin_chat_template("deepseek") ? "deepseek" : "chatml");
  source.text = std::string(fallback);
  return source;
}

TemplateSource load_source(const TemplateOptions& o) {
  if (!o.model_path.empty()) return from_gguf(o.model_path);
  if (!o.tokenizer_config_path.empty()) return from_tokenizer_config(o.tokenizer_config_path);
  if (!o.template_path.empty()) return TemplateSource{read_file(o.template_path), ojson::object()};
  return TemplateSource{std::string(builtin_chat_template(o.builtin_name)), ojson::object()};
}

int run_template(const TemplateOptions& o) {
  TemplateSource source = load_source(o);
  ojson input = parse_json(read_file(o.messages_path), o.messages_path);
  ojson messages = input;
  ojson tools = nullptr;
  if (input.is_object()) {
    if (!input.contains("messages")) throw Error(o.messages_path + ": object has no 'messages' key");
    messages = input["messages"];
    if (input.contains("tools")) tools = input["tools"];
  }
  if (!o.tools_path.empty()) tools = parse_json(read_file(o.tools_path), o.tools_path);
  ojson extra = source.special_tokens;
  if (!o.kwargs_json.empty()) {
    ojson kwargs = parse_json(o.kwargs_json, "--kwargs");
    if (!kwargs.is_object()) throw Error("--kwargs must be a JSON object");
    for (const auto& [key, value] : kwargs.items()) extra[key] = value;
  }
  ChatTemplate tmpl(source.text);
  std::string prompt = apply_chat_template(tmpl, messages, tools, o.add_generation_prompt, extra);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  return 0;
}

}  // namespace

void register_template(CLI::App& app) {
  auto options = std::make_shared<TemplateOptions>();
  CLI::App* cmd = app.add_subcommand("template", "Render a chat template for a list of messages");
  auto* source = cmd->add_option_group("source", "where the template comes from");
  source->add_option("-m,--model", options->model_path, "GGUF file (tokenizer.chat_template)");
  source->add_option("--tokenizer-config", options->tokenizer_config_path, "tokenizer_config.json (chat_template)");
  source->add_option("--template", options->template_path, "a Jinja template file");
  source->add_option("--builtin", options->builtin_name, "a built-in template: chatml or deepseek");
  source->require_option(1);
  cmd->add_option("--messages", options->messages_path, "JSON: array of messages, or {messages, tools}")->required();
  cmd->add_option("--tools", options->tools_path, "JSON array of tool definitions");
  cmd->add_option("--kwargs", options->kwargs_json, "JSON object of extra template variables, e.g. {\"enable_thinking\": false}");
  cmd->add_flag("--add-generation-prompt", options->add_generation_prompt, "end with the assistant turn's opening");
  cmd->callback([options] { set_action([options] { return run_template(*options); }); });
}

}  // namespace moxie::cli

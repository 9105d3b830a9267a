#include "moxie/convert/tokenizer_keys.h"

#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"
#include "moxie/gguf/writer.h"
#include "moxie/tokenizer/hf_tokenizer_json.h"

namespace moxie::convert {
namespace {

std::string read_optional(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string chat_template_of(const std::string& config_json, const std::string& source) {
  if (config_json.empty()) return {};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(config_json);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(source + ": not valid JSON at byte " + std::to_string(e.byte));
  }
  if (!j.is_object() || !j.contains("chat_template") || j["chat_template"].is_null()) return {};
  const auto& t = j["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {
    for (const auto& entry : t) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string()) {
        return entry["template"].get<std::string>();
      }
    }
  }
  throw Error(source + ": \"chat_template\" must be a string or a list with a \"default\" entry");
}

int64_t write_tokenizer_keys(GgufWriter& w, const std::string& dir, int64_t n_vocab) {
  const std::string path = dir + "/tokenizer.json";
  tokenizer::TokenizerData data = tokenizer::load_hf_tokenizer_json(path);
  if (int64_t(data.tokens.size()) > n_vocab) {
    throw Error(path + ": has " + std::to_string(data.tokens.size()) + " tokens, more than config.json's vocab_size " +
                std::to_string(n_vocab));
  }
  // tokenizer.json has no token types: vocabulary tokens are normal, added tokens control
  // (special) or user-defined, as llama.cpp's converter marks them.
  std::vector<int32_t> types(data.tokens.size(), int32_t(tokenizer::TokenType::kNormal));
  for (const tokenizer::AddedToken& t : data.added_tokens) {
    if (t.id >= 0 && size_t(t.id) < types.size()) {
      types[size_t(t.id)] = int32_t(t.special ? tokenizer::TokenType::kControl : tokenizer::TokenType::kUserDefined);
    }
  }
  while (int64_t(data.tokens.size()) < n_vocab) {
    data.tokens.push_back("[PAD" + std::to_string(data.tokens.size()) + "]");
    types.push_back(int32_t(tokenizer::TokenType::kUnused));
  }
  std::vector<std::string> merges;
  merges.reserve(data.merges.size());
  for (const auto& [left, right] : data.merges) merges.push_back(left + " " + right);
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", tokenizer::pre_tokenizer_name(data.pre));
  w.add_string_array("tokenizer.ggml.tokens", std::span<const std::string>(data.tokens));
  w.add_array<int32_t>("tokenizer.ggml.token_type", std::span<const int32_t>(types));
  w.add_string_array("tokenizer.ggml.merges", std::span<const std::string>(merges));
  if (data.bos_id >= 0) w.add_u32("tokenizer.ggml.bos_token_id", uint32_t(data.bos_id));
  if (data.eos_id >= 0) w.add_u32("tokenizer.ggml.eos_token_id", uint32_t(data.eos_id));
  if (data.pad_id >= 0) w.add_u32("tokenizer.ggml.padding_token_id", uint32_t(data.pad_id));
  w.add_bool("tokenizer.ggml.add_bos_token", data.add_bos);
  w.add_bool("tokenizer.ggml.add_eos_token", data.add_eos);
  const std::string config_path = dir + "/tokenizer_config.json";
  const std::string chat = chat_template_of(read_optional(config_path), config_path);
  if (!chat.empty()) w.add_string("tokenizer.chat_template", chat);
  return int64_t(data.tokens.size());
}

}  // namespace moxie::convert

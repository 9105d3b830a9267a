#include "moxie/tokenizer/hf_tokenizer_json.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"

namespace moxie::tokenizer {
namespace {

using nlohmann::json;

// The Split patterns of each family's tokenizer.json, with literal CR/LF written as \r \n.
constexpr const char* kGpt4Pattern1Digit =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4Pattern3Digits =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kO200kPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
    R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kDeepSeekDigits = R"(\p{N}{1,3})";
constexpr const char* kDeepSeekCjk = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
constexpr const char* kDeepSeekWords =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct Context {
  const std::string& source;
  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(source + ": " + field + ": " + what);
  }
};

const json& member(const Context& cx, const json& obj, const char* key, const std::string& field) {
  if (!obj.is_object() || !obj.contains(key)) cx.fail(field, std::string("missing \"") + key + "\"");
  return obj.at(key);
}

std::string string_at(const Context& cx, const json& v, const std::string& field) {
  if (!v.is_string()) cx.fail(field, "expected a string, found " + std::string(v.type_name()));
  return v.get<std::string>();
}

std::string escape_line_breaks(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void collect_pre_tokenizer(const Context& cx, const json& pt, const std::string& field,
                           std::vector<std::string>* patterns, bool* byte_level) {
  const std::string type = string_at(cx, member(cx, pt, "type", field), field + ".type");
  if (type == "Sequence") {
    const json& list = member(cx, pt, "pretokenizers", field);
    for (size_t i = 0; i < list.size(); ++i) {
      collect_pre_tokenizer(cx, list[i], field + ".pretokenizers[" + std::to_string(i) + "]", patterns, byte_level);
    }
  } else if (type == "Split") {
    const json& pattern = member(cx, pt, "pattern", field);
    if (!pattern.contains("Regex")) cx.fail(field + ".pattern", "only Regex patterns are supported");
    if (pt.value("behavior", "") != "Isolated" || pt.value("invert", false)) {
      cx.fail(field, "only behavior Isolated without invert is supported");
    }
    patterns->push_back(escape_line_breaks(string_at(cx, pattern.at("Regex"), field + ".pattern.Regex")));
  } else if (type == "ByteLevel") {
    if (pt.value("use_regex", true) || pt.value("add_prefix_space", false)) {
      cx.fail(field, "ByteLevel with use_regex or add_prefix_space (GPT-2 style) is not supported");
    }
    *byte_level = true;
  } else {
    cx.fail(field + ".type", "unsupported pre-tokenizer \"" + type + "\"");
  }
}

PreTokenizerKind parse_pre_tokenizer(const Context& cx, const json& root) {
  std::vector<std::string> patterns;
  bool byte_level = false;
  collect_pre_tokenizer(cx, member(cx, root, "pre_tokenizer", "root"), "pre_tokenizer", &patterns, &byte_level);
  if (!byte_level) cx.fail("pre_tokenizer", "no ByteLevel step: only byte-level BPE is supported");
  const std::vector<std::string> deepseek = {kDeepSeekDigits, kDeepSeekCjk, kDeepSeekWords};
  if (patterns == std::vector<std::string>{kGpt4Pattern1Digit}) return PreTokenizerKind::kQwen2;
  if (patterns == std::vector<std::string>{kGpt4Pattern3Digits}) return PreTokenizerKind::kLlama3;
  if (patterns == std::vector<std::string>{kO200kPattern}) return PreTokenizerKind::kO200k;
  if (patterns == deepseek) return PreTokenizerKind::kDeepSeekV3;
  cx.fail("pre_tokenizer", "unsupported Split pattern(s): " + (patterns.empty() ? "none" : patterns[0]));
}

bool parse_normalizer(const Context& cx, const json& root) {
  if (!root.contains("normalizer") || root["normalizer"].is_null()) return false;
  const json& n = root["normalizer"];
  const std::string type = string_at(cx, member(cx, n, "type", "normalizer"), "normalizer.type");
  if (type == "NFC") return true;
  if (type == "Sequence" && n.contains("normalizers") && n["normalizers"].empty()) return false;
  cx.fail("normalizer", "unsupported normalizer \"" + type + "\" (only NFC or none)");
}

void parse_model(const Context& cx, const json& root, TokenizerData* data) {
  const json& model = member(cx, root, "model", "root");
  if (string_at(cx, member(cx, model, "type", "model"), "model.type") != "BPE") {
    cx.fail("model.type", "only BPE models are supported");
  }
  if (model.value("byte_fallback", false)) cx.fail("model.byte_fallback", "byte_fallback is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && model[key] != "") {
      cx.fail(std::string("model.") + key, "must be empty for byte-level BPE");
    }
  }
  data->ignore_merges = model.value("ignore_merges", false);
  const json& vocab = member(cx, model, "vocab", "model");
  if (!vocab.is_object()) cx.fail("model.vocab", "expected an object of token -> id");
  for (const auto& [text, id_json] : vocab.items()) {
    if (!id_json.is_number_integer() || id_json.get<int64_t>() < 0 || id_json.get<int64_t>() > 0x7FFFFFFE) {
      cx.fail("model.vocab[\"" + text + "\"]", "the id must be a non-negative integer");
    }
    const auto id = id_json.get<size_t>();
    if (id >= data->tokens.size()) data->tokens.resize(id + 1);
    if (!data->tokens[id].empty()) cx.fail("model.vocab[\"" + text + "\"]", "id " + std::to_string(id) + " is used twice");
    data->tokens[id] = text;
  }
  const json& merges = member(cx, model, "merges", "model");
  data->merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    const std::string field = "model.merges[" + std::to_string(i) + "]";
    if (m.is_array() && m.size() == 2) {
      data->merges.emplace_back(string_at(cx, m[0], field), string_at(cx, m[1], field));
      continue;
    }
    const std::string s = string_at(cx, m, field);
    const size_t space = s.find(' ');
    if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
      cx.fail(field, "expected \"left right\", found \"" + s + "\"");
    }
    data->merges.emplace_back(s.substr(0, space), s.substr(space + 1));
  }
}

void parse_added_tokens(const Context& cx, const json& root, TokenizerData* data) {
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return;
  const json& list = root["added_tokens"];
  for (size_t i = 0; i < list.size(); ++i) {
    const json& t = list[i];
    const std::string field = "added_tokens[" + std::to_string(i) + "]";
    AddedToken added;
    added.content = string_at(cx, member(cx, t, "content", field), field + ".content");
    const json& id = member(cx, t, "id", field);
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > 0x7FFFFFFE) {
      cx.fail(field + ".id", "must be a non-negative integer");
    }
    added.id = id.get<int32_t>();
    added.special = t.value("special", false);
    added.normalized = t.value("normalized", !added.special);
    if (t.value("lstrip", false) || t.value("rstrip", false) || t.value("single_word", false)) {
      cx.fail(field, "lstrip, rstrip and single_word are not supported");
    }
    if (added.content.empty()) cx.fail(field + ".content", "is empty");
    if (static_cast<size_t>(added.id) >= data->tokens.size()) data->tokens.resize(added.id + 1);
    if (!data->tokens[added.id].empty() && data->tokens[added.id] != added.content) {
      cx.fail(field, "id " + std::to_string(added.id) + " is already the vocabulary token \"" +
                         data->tokens[added.id] + "\"");
    }
    data->tokens[added.id] = added.content;
    data->added_tokens.push_back(std::move(added));
  }
}

int32_t find_token_id(const TokenizerData& data, const std::string& text) {
  for (const AddedToken& t : data.added_tokens) {
    if (t.content == text) return t.id;
  }
  for (size_t i = 0; i < data.tokens.size(); ++i) {
    if (data.tokens[i] == text) return static_cast<int32_t>(i);
  }
  return -1;
}

// TemplateProcessing {"single": [{"SpecialToken": {"id": "<bos>"}}, {"Sequence": {"id": "A"}}]}
// means "add BOS"; a special token after the sequence means "add EOS".
void parse_post_processor(const Context& cx, const json& pp, TokenizerData* data) {
  if (!pp.is_object()) return;
  const std::string type = pp.value("type", "");
  if (type == "Sequence" && pp.contains("processors")) {
    for (const json& p : pp["processors"]) parse_post_processor(cx, p, data);
    return;
  }
  if (type != "TemplateProcessing" || !pp.contains("single")) return;
  bool seen_sequence = false;
  for (const json& piece : pp["single"]) {
    if (piece.contains("Sequence")) {
      seen_sequence = true;
    } else if (piece.contains("SpecialToken")) {
      const std::string name = string_at(cx, member(cx, piece["SpecialToken"], "id", "post_processor.single"),
                                         "post_processor.single.SpecialToken.id");
      const int32_t id = find_token_id(*data, name);
      if (id < 0) cx.fail("post_processor.single", "unknown special token \"" + name + "\"");
      if (seen_sequence) data->add_eos = true, data->eos_id = id;
      else data->add_bos = true, data->bos_id = id;
    }
  }
}

// tokenizer_config.json: {"bos_token": "<s>" or {"content": "<s>", ...}, "add_bos_token": true, ...}
void parse_config(const Context& cx, const json& config, TokenizerData* data) {
  auto token_id = [&](const char* key) -> int32_t {
    if (!config.contains(key) || config[key].is_null()) return -1;
    const json& v = config[key];
    const std::string text = v.is_object() ? string_at(cx, member(cx, v, "content", key), key) : string_at(cx, v, key);
    const int32_t id = find_token_id(*data, text);
    if (id < 0) cx.fail(std::string("tokenizer_config.json ") + key, "unknown token \"" + text + "\"");
    return id;
  };
  if (int32_t id = token_id("bos_token"); id >= 0) data->bos_id = id;
  if (int32_t id = token_id("eos_token"); id >= 0) data->eos_id = id;
  if (int32_t id = token_id("pad_token"); id >= 0) data->pad_id = id;
  if (config.value("add_bos_token", false)) data->add_bos = true;
  if (config.value("add_eos_token", false)) data->add_eos = true;
}

std::string read_file(const std::string& path, bool required) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (required) throw Error(path + ": cannot open the file");
    return {};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parse_json(std::string_view text, const std::string& source) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(source + ": not valid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
}

}  // namespace

TokenizerData parse_hf_tokenizer_json(std::string_view json_text, std::string_view config_json,
                                      const std::string& source) {
  const Context cx{source};
  const json root = parse_json(json_text, source);
  if (!root.is_object()) cx.fail("root", "expected a JSON object");
  TokenizerData data;
  data.source = source;
  try {
    data.nfc = parse_normalizer(cx, root);
    data.pre = parse_pre_tokenizer(cx, root);
    parse_model(cx, root, &data);
    parse_added_tokens(cx, root, &data);
    for (size_t i = 0; i < data.tokens.size(); ++i) {
      if (data.tokens[i].empty()) cx.fail("model.vocab", "no token has id " + std::to_string(i));
    }
    if (root.contains("post_processor")) parse_post_processor(cx, root["post_processor"], &data);
    if (!config_json.empty()) {
      const json config = parse_json(config_json, source + " (tokenizer_config.json)");
      if (config.is_object()) parse_config(cx, config, &data);
    }
  } catch (const json::exception& e) {  // a field of an unexpected JSON type
    throw Error(source + ": unexpected JSON structure: " + e.what());
  }
  return data;
}

TokenizerData load_hf_tokenizer_json(const std::string& path) {
  const std::string text = read_file(path, true);
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string config = read_file(dir + "tokenizer_config.json", false);
  return parse_hf_tokenizer_json(text, config, path);
}

}  // namespace moxie::tokenizer

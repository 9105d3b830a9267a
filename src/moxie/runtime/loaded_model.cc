#include "moxie/runtime/loaded_model.h"

#include <algorithm>
#include <chrono>
#include <string_view>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/model/model.h"
#include "moxie/tokenizer/gguf_tokenizer.h"
#include "moxie/tokenizer/template/chat_template.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie {
namespace {

// Control tokens that end a turn in the families moxie runs, besides the declared EOS/EOT
// (llama.cpp keeps a similar list: an instruct model's EOS key often names only one of them).
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<|return|>", "<|call|>",
    "<｜end▁of▁sentence｜>", "<end_of_turn>",
};

std::vector<int32_t> find_end_tokens(const tokenizer::Tokenizer& tok) {
  std::vector<int32_t> ids;
  for (int32_t id : {tok.eos_id(), tok.eot_id()}) {
    if (id >= 0) ids.push_back(id);
  }
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (!tok.is_special(id)) continue;
    const std::string& text = tok.token_text(id);
    for (std::string_view end : kEndOfGenerationTexts) {
      if (text == end) ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::string token_text_or_empty(const tokenizer::Tokenizer& tok, int32_t id) {
  return id >= 0 && id < tok.n_vocab() ? tok.token_text(id) : std::string();
}

}  // namespace

LoadedModel::LoadedModel() = default;
LoadedModel::LoadedModel(LoadedModel&&) noexcept = default;
LoadedModel& LoadedModel::operator=(LoadedModel&&) noexcept = default;
LoadedModel::~LoadedModel() = default;

LoadedModel LoadedModel::load(const std::string& path) { return load(path, ModelOptions{}); }

LoadedModel LoadedModel::load(const std::string& path, const ModelOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel m;
  m.model_ = Model::open(path, options);
  const GgufFile& file = m.model_->file();
  m.tokenizer_ = std::make_unique<tokenizer::Tokenizer>(tokenizer::load_gguf_tokenizer(file));
  m.end_tokens_ = find_end_tokens(*m.tokenizer_);
  m.bos_text_ = token_text_or_empty(*m.tokenizer_, m.tokenizer_->bos_id());
  m.eos_text_ = token_text_or_empty(*m.tokenizer_, m.tokenizer_->eos_id());
  if (auto text = file.opt_string("tokenizer.chat_template"); text && !text->empty()) {
    m.template_source_ = std::string(*text);
    m.template_origin_ = "the file's";
  } else {
    const std::string arch(file.opt_string("general.architecture").value_or(""));
    m.template_source_ = std::string(builtin_chat_template_for_architecture(arch));
    m.template_origin_ = m.template_source_ == builtin_chat_template("deepseek") ? "the built-in deepseek"
                                                                                 : "the built-in chatml";
  }
  m.load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

std::vector<int32_t> LoadedModel::encode_text(const std::string& text) const {
  return tokenizer_->encode(text, tokenizer::EncodeOptions{.add_special = true, .parse_special = true});
}

const ChatTemplate& LoadedModel::chat_template() const {
  if (!template_) {
    try {
      template_ = std::make_unique<ChatTemplate>(template_source_);
    } catch (const Error& e) {
      throw Error(model_->file().path() + ": " + template_origin_ + " chat template does not parse: " + e.what());
    }
  }
  return *template_;
}

std::string LoadedModel::render_chat(const nlohmann::ordered_json& messages, bool add_generation_prompt) const {
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  if (!bos_text_.empty()) extra["bos_token"] = bos_text_;
  if (!eos_text_.empty()) extra["eos_token"] = eos_text_;
  return apply_chat_template(chat_template(), messages, nullptr, add_generation_prompt, extra);
}

std::vector<int32_t> LoadedModel::encode_chat(const nlohmann::ordered_json& messages, bool add_generation_prompt) const {
  const std::string prompt = render_chat(messages, add_generation_prompt);
  return tokenizer_->encode(prompt, tokenizer::EncodeOptions{.add_special = false, .parse_special = true});
}

}  // namespace moxie

#pragma once
// LoadedModel: what a generation front end (run, chat, the server) needs from one GGUF
// file: the model (weights used in place from the mmap), its tokenizer, its chat template
// and the tokens that end an answer.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace moxie {

class ChatTemplate;
class Model;
struct ModelOptions;
namespace tokenizer {
class Tokenizer;
}

class LoadedModel {
 public:
  // Opens and validates the file. Throws moxie::Error naming the file and what is wrong.
  static LoadedModel load(const std::string& path);
  static LoadedModel load(const std::string& path, const ModelOptions& options);
  LoadedModel(LoadedModel&&) noexcept;
  LoadedModel& operator=(LoadedModel&&) noexcept;
  ~LoadedModel();

  const Model& model() const { return *model_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  double load_ms() const { return load_ms_; }  // mapping, validation, tokenizer tables
  // EOS, EOT and the vocabulary's other end-of-generation tokens (<|im_end|>, <|eot_id|>, ...).
  const std::vector<int32_t>& end_tokens() const { return end_tokens_; }

  // Plain text prompt: BOS added where the vocabulary asks for it.
  std::vector<int32_t> encode_text(const std::string& text) const;
  // Renders messages ([{"role": ..., "content": ...}, ...]) with the file's chat template
  // (or the built-in one for its architecture) and encodes the result: special-token text
  // is parsed, nothing is added (the template writes BOS itself where the model wants it).
  // Throws moxie::Error for a template that does not parse or raises.
  std::string render_chat(const nlohmann::ordered_json& messages, bool add_generation_prompt) const;
  std::vector<int32_t> encode_chat(const nlohmann::ordered_json& messages, bool add_generation_prompt) const;
  // "the file's" or "the built-in chatml" / "the built-in deepseek", for messages.
  const std::string& template_origin() const { return template_origin_; }

 private:
  LoadedModel();
  const ChatTemplate& chat_template() const;

  std::unique_ptr<Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::string template_source_;
  std::string template_origin_;
  std::string bos_text_, eos_text_;  // the template's bos_token and eos_token variables
  mutable std::unique_ptr<ChatTemplate> template_;  // parsed on first use: `run` without --chat never needs it
  std::vector<int32_t> end_tokens_;
  double load_ms_ = 0;
};

}  // namespace moxie

#pragma once
// JSON mode (`response_format: {"type": "json_object"}`): constrained decoding that makes
// the answer one JSON object. Before each draw, JsonConstraint sets the logit of every token
// whose bytes would stop the text from being a prefix of a valid object to -inf (see
// JsonRecognizer); after the draw, accept() advances the recogniser by the chosen token.
// Once the object has closed, complete() is true and the caller ends the answer (finish
// reason "stop"); from then on only the end tokens are allowed.
//
//   auto vocab = std::make_shared<const JsonVocab>(tokenizer);   // once per tokenizer
//   JsonConstraint json(vocab, end_tokens);                      // once per answer
//   token = sampler.sample(logits, history, &json);              // masks, then samples
//   json.accept(token.token); if (json.complete()) stop;
//
// Special and unused tokens never appear inside the JSON; tokens with no bytes neither.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moxie/runtime/sampler/json_recognizer.h"
#include "moxie/runtime/sampler/sampler.h"

namespace moxie {

namespace tokenizer {
class Tokenizer;
}

// Every token's bytes and class, computed once per tokenizer (~10 ms for 150k tokens).
class JsonVocab {
 public:
  explicit JsonVocab(const tokenizer::Tokenizer& tok);

  int32_t size() const { return int32_t(offsets_.size()) - 1; }
  std::string_view bytes(int32_t id) const {
    return std::string_view(blob_).substr(offsets_[size_t(id)], offsets_[size_t(id) + 1] - offsets_[size_t(id)]);
  }
  // A token that may appear in JSON at all: not special/unused, at least one byte.
  bool usable(int32_t id) const { return flags_[size_t(id)] & kUsable; }
  // Printable, complete UTF-8 with no '"' or '\': leaves a plain string state unchanged.
  bool plain_string(int32_t id) const { return flags_[size_t(id)] & kPlainString; }

 private:
  static constexpr uint8_t kUsable = 1, kPlainString = 2;
  std::string blob_;               // all tokens' bytes, concatenated
  std::vector<uint32_t> offsets_;  // [n_vocab + 1]: token i is blob_[offsets_[i], offsets_[i + 1])
  std::vector<uint8_t> flags_;     // [n_vocab]
};

class JsonConstraint final : public LogitMask {
 public:
  // end_tokens: EOS/EOT, allowed only once the object is complete.
  JsonConstraint(std::shared_ptr<const JsonVocab> vocab, std::vector<int32_t> end_tokens, const JsonLimits& limits = {});
  ~JsonConstraint() override;

  // logits [n_vocab of the model]: sets -inf on every token that would break the text
  // (ids past the tokenizer's vocabulary included). Throws moxie::Error when no token is left.
  void apply(std::span<float> logits) override;
  // Advances by a sampled token. Throws moxie::Error if it breaks the text (it was masked).
  void accept(int32_t token);

  bool complete() const { return state_.complete(); }
  const JsonRecognizer& state() const { return state_; }

 private:
  struct StepTables;
  bool allows(int32_t token) const;

  std::shared_ptr<const JsonVocab> vocab_;
  std::vector<int32_t> end_tokens_;
  JsonRecognizer state_;
  std::unique_ptr<StepTables> tables_;  // ~80 KB, reused by every apply()
};

}  // namespace moxie

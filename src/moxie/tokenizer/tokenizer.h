#pragma once
// A byte-level BPE tokenizer (Qwen2/Qwen3, DeepSeek-V3/R1, Llama 3, gpt-oss):
// added tokens are matched first, the rest is normalized (NFC where the model asks),
// pre-tokenized by the model family's pattern and BPE-merged. Instances are immutable
// after construction, and encode/decode may run on many threads at once.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "moxie/tokenizer/tokenizer_data.h"

namespace moxie::tokenizer {

struct EncodeOptions {
  bool add_special = true;    // add BOS/EOS where the tokenizer's config says so
  bool parse_special = true;  // match special-token text; turn off for untrusted user text
};

class Tokenizer {
 public:
  // Validates data and builds the lookup tables; throws moxie::Error naming data.source
  // and the offending token, merge or id when the vocabulary is broken.
  explicit Tokenizer(TokenizerData data);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Any byte string is accepted: invalid UTF-8 bytes are encoded as their byte tokens,
  // so decode(encode(s)) == s for every s that contains no added-token text.
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Appends the ids of text, without BOS/EOS, to *ids.
  void encode_into(std::string_view text, bool parse_special, std::vector<int32_t>* ids) const;

  // The bytes the ids stand for, concatenated (may end inside a UTF-8 character; see
  // StreamDecoder for text that is safe to show). Throws moxie::Error on an unknown id.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  std::string_view token_bytes(int32_t id) const;  // throws moxie::Error on an unknown id
  const std::string& token_text(int32_t id) const;  // as the vocabulary stores it

  int32_t n_vocab() const;
  TokenType token_type(int32_t id) const;
  bool is_special(int32_t id) const { return token_type(id) == TokenType::kControl; }
  const TokenizerData& data() const;  // merges are dropped after construction
  int32_t bos_id() const { return data().bos_id; }
  int32_t eos_id() const { return data().eos_id; }
  int32_t eot_id() const { return data().eot_id; }
  int32_t pad_id() const { return data().pad_id; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moxie::tokenizer

#pragma once
// Finds added tokens (special and user-defined) in text before pre-tokenization, with
// leftmost-longest matching like Hugging Face's AddedVocabulary (Aho-Corasick).
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "moxie/tokenizer/tokenizer_data.h"

namespace moxie::tokenizer {

struct TextSegment {
  uint32_t begin, end;  // byte offsets
  int32_t token_id;     // the added token matched here, or -1 for plain text
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens);
  bool empty() const { return tokens_.empty(); }

  // Appends text's segments to *out; with parse_special off, special tokens are not
  // matched (their text stays plain text), while non-special added tokens still are.
  void split(std::string_view text, bool parse_special, std::vector<TextSegment>* out) const;

 private:
  std::vector<AddedToken> tokens_;
  std::array<std::vector<int32_t>, 256> by_first_byte_;  // indices into tokens_, longest first
};

}  // namespace moxie::tokenizer

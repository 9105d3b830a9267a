#include "moxie/tokenizer/added_tokens.h"

#include <algorithm>
#include <cstring>

namespace moxie::tokenizer {

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens) {
  for (const AddedToken& t : tokens) {
    if (!t.content.empty()) tokens_.push_back(t);
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(static_cast<int32_t>(i));
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](int32_t a, int32_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

void AddedTokenMatcher::split(std::string_view text, bool parse_special, std::vector<TextSegment>* out) const {
  const auto n = static_cast<uint32_t>(text.size());
  uint32_t plain_begin = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[i])];
    for (int32_t index : candidates) {
      const AddedToken& t = tokens_[index];
      if (t.special && !parse_special) continue;
      if (t.content.size() > n - i || std::memcmp(text.data() + i, t.content.data(), t.content.size()) != 0) {
        continue;
      }
      if (plain_begin < i) out->push_back({plain_begin, i, -1});
      const auto end = static_cast<uint32_t>(i + t.content.size());
      out->push_back({i, end, t.id});
      plain_begin = end;
      i = end - 1;
      break;
    }
  }
  if (plain_begin < n) out->push_back({plain_begin, n, -1});
}

}  // namespace moxie::tokenizer

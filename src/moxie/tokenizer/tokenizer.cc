#include "moxie/tokenizer/tokenizer.h"

#include <array>
#include <cstdio>
#include <unordered_map>

#include "moxie/core/error.h"
#include "moxie/tokenizer/added_tokens.h"
#include "moxie/tokenizer/bpe.h"
#include "moxie/tokenizer/byte_level.h"
#include "moxie/tokenizer/nfc.h"
#include "moxie/tokenizer/pre_tokenizer.h"

namespace moxie::tokenizer {

struct Tokenizer::Impl {
  TokenizerData data;
  std::vector<std::string> token_bytes;  // [n_vocab]
  AddedTokenMatcher raw_matcher;         // added tokens with normalized = false
  AddedTokenMatcher normalized_matcher;  // added tokens with normalized = true
  std::unique_ptr<BytePairEncoder> bpe;

  void encode_normalized(std::string_view text, bool parse_special, std::vector<int32_t>* ids) const;
  void encode_words(std::string_view text, std::vector<int32_t>* ids) const;
};

namespace {

std::string describe(const TokenizerData& data) { return data.source.empty() ? "tokenizer" : data.source; }

void validate_shape(const TokenizerData& data) {
  const std::string where = describe(data);
  if (data.tokens.empty()) throw Error(where + ": the vocabulary is empty");
  if (data.tokens.size() > 0x7FFFFFFF) throw Error(where + ": the vocabulary is too large");
  if (!data.types.empty() && data.types.size() != data.tokens.size()) {
    throw Error(where + ": " + std::to_string(data.types.size()) + " token types for " +
                std::to_string(data.tokens.size()) + " tokens");
  }
  const auto n = static_cast<int64_t>(data.tokens.size());
  auto check_id = [&](int32_t id, const char* what) {
    if (id < -1 || id >= n) {
      throw Error(where + ": " + what + " " + std::to_string(id) + " is outside the vocabulary of " +
                  std::to_string(n) + " tokens");
    }
  };
  check_id(data.bos_id, "bos token id");
  check_id(data.eos_id, "eos token id");
  check_id(data.pad_id, "padding token id");
  check_id(data.eot_id, "eot token id");
  for (const AddedToken& t : data.added_tokens) {
    if (t.id < 0 || t.id >= n) check_id(t.id, ("added token '" + t.content + "' id").c_str());
  }
  if (data.add_bos && data.bos_id < 0) throw Error(where + ": add_bos is set but there is no bos token");
  if (data.add_eos && data.eos_id < 0) throw Error(where + ": add_eos is set but there is no eos token");
}

std::unordered_map<std::string_view, int32_t> index_tokens(const TokenizerData& data) {
  std::unordered_map<std::string_view, int32_t> by_text;
  by_text.reserve(data.tokens.size());
  for (size_t i = 0; i < data.tokens.size(); ++i) by_text.emplace(data.tokens[i], static_cast<int32_t>(i));
  return by_text;
}

MergeTable build_merges(const TokenizerData& data, const std::unordered_map<std::string_view, int32_t>& by_text) {
  const std::string where = describe(data);
  MergeTable merges;
  merges.reserve(data.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < data.merges.size(); ++rank) {
    const auto& [left, right] = data.merges[rank];
    joined = left + right;
    auto l = by_text.find(left), r = by_text.find(right), m = by_text.find(joined);
    const char* missing = l == by_text.end() ? "left side" : r == by_text.end() ? "right side"
                          : m == by_text.end() ? "merged token" : nullptr;
    if (missing) {
      throw Error(where + ": merge " + std::to_string(rank) + " ('" + left + "' '" + right + "'): its " +
                  missing + " is not in the vocabulary");
    }
    merges.insert(l->second, r->second, static_cast<uint32_t>(rank), m->second);
  }
  return merges;
}

}  // namespace

Tokenizer::Tokenizer(TokenizerData data) : impl_(std::make_unique<Impl>()) {
  validate_shape(data);
  Impl& im = *impl_;
  if (data.types.empty()) data.types.assign(data.tokens.size(), TokenType::kNormal);
  for (const AddedToken& t : data.added_tokens) {
    if (data.types[t.id] == TokenType::kNormal || data.types[t.id] == TokenType::kUndefined) {
      data.types[t.id] = t.special ? TokenType::kControl : TokenType::kUserDefined;
    }
  }
  // Token bytes: the byte-level text decoded, or the text itself when it is not in the
  // byte-level alphabet (like <｜begin▁of▁sentence｜>), as Hugging Face's decoder does.
  im.token_bytes.resize(data.tokens.size());
  std::unordered_map<std::string_view, int32_t> whole_words;
  for (size_t i = 0; i < data.tokens.size(); ++i) {
    std::string bytes;
    if (byte_level_to_bytes(data.tokens[i], &bytes)) {
      im.token_bytes[i] = std::move(bytes);
    } else {
      im.token_bytes[i] = data.tokens[i];
    }
  }
  const auto by_text = index_tokens(data);
  std::array<int32_t, 256> byte_tokens{};
  for (int b = 0; b < 256; ++b) {
    const std::string text = bytes_to_byte_level(std::string(1, static_cast<char>(b)));
    auto it = by_text.find(text);
    if (it == by_text.end()) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      throw Error(describe(data) + ": the vocabulary has no token for byte " + hex + " ('" + text +
                  "'), which byte-level BPE needs");
    }
    byte_tokens[b] = it->second;
  }
  MergeTable merges = build_merges(data, by_text);
  for (size_t i = 0; i < data.tokens.size(); ++i) {
    if (data.types[i] == TokenType::kNormal || data.types[i] == TokenType::kByte) {
      whole_words.emplace(im.token_bytes[i], static_cast<int32_t>(i));
    }
  }
  im.bpe = std::make_unique<BytePairEncoder>(byte_tokens, std::move(merges), std::move(whole_words),
                                             data.ignore_merges);
  std::vector<AddedToken> raw, normalized;
  for (const AddedToken& t : data.added_tokens) (t.normalized ? normalized : raw).push_back(t);
  im.raw_matcher = AddedTokenMatcher(raw);
  im.normalized_matcher = AddedTokenMatcher(normalized);
  data.merges.clear();
  data.merges.shrink_to_fit();
  im.data = std::move(data);
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

void Tokenizer::Impl::encode_words(std::string_view text, std::vector<int32_t>* ids) const {
  thread_local std::vector<WordSpan> words;
  words.clear();
  pre_tokenize(data.pre, text, &words);
  for (const WordSpan& w : words) bpe->encode(text.substr(w.begin, w.end - w.begin), ids);
}

void Tokenizer::Impl::encode_normalized(std::string_view text, bool parse_special, std::vector<int32_t>* ids) const {
  std::string normalized;
  if (data.nfc && nfc_normalize(text, &normalized)) text = normalized;
  if (normalized_matcher.empty()) {
    encode_words(text, ids);
    return;
  }
  std::vector<TextSegment> segments;
  normalized_matcher.split(text, parse_special, &segments);
  for (const TextSegment& s : segments) {
    if (s.token_id >= 0) ids->push_back(s.token_id);
    else encode_words(text.substr(s.begin, s.end - s.begin), ids);
  }
}

void Tokenizer::encode_into(std::string_view text, bool parse_special, std::vector<int32_t>* ids) const {
  if (impl_->raw_matcher.empty()) {
    impl_->encode_normalized(text, parse_special, ids);
    return;
  }
  std::vector<TextSegment> segments;
  impl_->raw_matcher.split(text, parse_special, &segments);
  for (const TextSegment& s : segments) {
    if (s.token_id >= 0) ids->push_back(s.token_id);
    else impl_->encode_normalized(text.substr(s.begin, s.end - s.begin), parse_special, ids);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  const TokenizerData& d = impl_->data;
  if (options.add_special && d.add_bos) ids.push_back(d.bos_id);
  encode_into(text, options.parse_special, &ids);
  if (options.add_special && d.add_eos) ids.push_back(d.eos_id);
  return ids;
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= n_vocab()) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " +
                std::to_string(n_vocab()) + " tokens");
  }
  return impl_->token_bytes[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  token_bytes(id);  // range check
  return impl_->data.tokens[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    std::string_view bytes = token_bytes(id);
    if (skip_special && impl_->data.types[id] == TokenType::kControl) continue;
    out.append(bytes);
  }
  return out;
}

int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(impl_->data.tokens.size()); }

TokenType Tokenizer::token_type(int32_t id) const {
  token_bytes(id);
  return impl_->data.types[id];
}

const TokenizerData& Tokenizer::data() const { return impl_->data; }

}  // namespace moxie::tokenizer

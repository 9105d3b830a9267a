#include "moxie/tokenizer/stream_decoder.h"

#include "moxie/tokenizer/tokenizer.h"
#include "moxie/tokenizer/unicode.h"

namespace moxie::tokenizer {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// True when s[0..n) is a proper prefix of some valid UTF-8 sequence.
bool is_incomplete_prefix(const unsigned char* s, size_t n) {
  const unsigned c = s[0];
  size_t len;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) len = 3;
  else if (c >= 0xF0 && c <= 0xF4) len = 4;
  else return false;
  if (n >= len) return false;
  for (size_t i = 1; i < n; ++i) {
    if ((s[i] & 0xC0) != 0x80) return false;
  }
  // The second byte's range rules out overlong forms, surrogates and values > U+10FFFF.
  if (n >= 2) {
    const unsigned d = s[1];
    if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d > 0x9F) || (c == 0xF0 && d < 0x90) || (c == 0xF4 && d > 0x8F)) {
      return false;
    }
  }
  return true;
}

}  // namespace

size_t append_valid_utf8(const std::string& bytes, bool hold_incomplete, std::string* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    const size_t len = decode_utf8(s + i, n - i, &cp);
    if (cp != kInvalidCodePoint) {
      out->append(bytes, i, len);
      i += len;
      continue;
    }
    if (hold_incomplete && n - i <= 3 && is_incomplete_prefix(s + i, n - i)) return n - i;
    out->append(kReplacement);
    // A truncated but well-started sequence followed by other bytes is one error, as in
    // the Unicode "maximal subpart" practice: skip its continuation bytes together.
    size_t skip = 1;
    while (i + skip < n && skip < 4 && is_incomplete_prefix(s + i, skip + 1)) ++skip;
    i += skip;
  }
  return 0;
}

std::string StreamDecoder::push(int32_t id) {
  const std::string_view bytes = tokenizer_.token_bytes(id);
  if (skip_special_ && tokenizer_.is_special(id)) return {};
  pending_.append(bytes);
  std::string out;
  const size_t held = append_valid_utf8(pending_, true, &out);
  pending_.erase(0, pending_.size() - held);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  append_valid_utf8(pending_, false, &out);
  pending_.clear();
  return out;
}

}  // namespace moxie::tokenizer

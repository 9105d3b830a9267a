#pragma once
// Unicode character classes for the pre-tokenizers and a lenient UTF-8 decoder.
// The classes follow Oniguruma's definitions, which Hugging Face's tokenizers uses for
// its Split regexes: \p{L} = Lu|Ll|Lt|Lm|Lo, \p{N} = Nd|Nl|No, \p{M} = Mn|Mc|Me,
// \p{P} = Pc|Pd|Ps|Pe|Pi|Pf|Po, \p{S} = Sm|Sc|Sk|So, \s = White_Space
// (U+0009..U+000D, U+0085 and the Zs, Zl, Zp categories).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace moxie::tokenizer {

// Values match tools/ref/tokenizer_unicode_tables.py's CATEGORIES list.
enum class GeneralCategory : uint8_t {
  Cn, Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe, Pi, Pf, Po,
  Sm, Sc, Sk, So, Zs, Zl, Zp, Cc, Cf, Cs, Co,
};

// Bit flags of a code point's classes, as used by the pre-tokenizer patterns.
enum CharClassBits : uint16_t {
  kClassLetter = 1 << 0,      // \p{L}
  kClassNumber = 1 << 1,      // \p{N}
  kClassMark = 1 << 2,        // \p{M}
  kClassPunct = 1 << 3,       // \p{P}
  kClassSymbol = 1 << 4,      // \p{S}
  kClassSpace = 1 << 5,       // \s
  kClassUpperish = 1 << 6,    // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k "upper" word part)
  kClassLowerish = 1 << 7,    // [\p{Ll}\p{Lm}\p{Lo}\p{M}]       (o200k "lower" word part)
};

// Stands for a byte that does not start a valid UTF-8 sequence; it has no class bits.
inline constexpr uint32_t kInvalidCodePoint = 0xFFFFFFFFu;

GeneralCategory general_category(uint32_t cp);  // binary search; kInvalidCodePoint -> Cn

// O(1) class lookup: a two-stage table over 256-code-point blocks, built once.
class CharClassTable {
 public:
  CharClassTable();
  uint16_t classes(uint32_t cp) const {
    if (cp >= 0x110000) return 0;
    return blocks_[size_t{block_index_[cp >> 8]} * 256 + (cp & 255)];
  }

 private:
  uint16_t block_index_[0x110000 >> 8];
  std::vector<uint16_t> blocks_;  // [n_unique_blocks * 256] class bits
};
const CharClassTable& char_classes();

// Decodes one code point at s[0..n), n >= 1. Returns its length in bytes; a malformed,
// overlong, surrogate or truncated sequence yields kInvalidCodePoint and length 1, so
// every byte of any input belongs to exactly one "character".
inline size_t decode_utf8(const unsigned char* s, size_t n, uint32_t* cp) {
  const unsigned c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t value, min;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; value = c & 0x1F; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; value = c & 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; value = c & 0x07; min = 0x10000; }
  else { *cp = kInvalidCodePoint; return 1; }
  if (n < len) { *cp = kInvalidCodePoint; return 1; }
  for (size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xC0) != 0x80) { *cp = kInvalidCodePoint; return 1; }
    value = (value << 6) | (s[i] & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    *cp = kInvalidCodePoint;
    return 1;
  }
  *cp = value;
  return len;
}

// Appends cp's UTF-8 encoding (cp must be a valid scalar value).
void append_utf8(uint32_t cp, std::vector<char>* out);
size_t encode_utf8(uint32_t cp, char out[4]);

}  // namespace moxie::tokenizer

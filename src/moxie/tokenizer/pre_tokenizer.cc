#include "moxie/tokenizer/pre_tokenizer.h"

#include <cstring>

#include "moxie/tokenizer/unicode.h"

namespace moxie::tokenizer {
namespace {

struct Char {
  uint32_t cp;
  uint16_t cls;     // CharClassBits
  uint32_t offset;  // byte offset of the character in the text
};

// The decoded text; chars[n].offset is the text's byte length (a sentinel).
struct CharText {
  std::vector<Char> chars;
  size_t n = 0;

  void decode(std::string_view text) {
    const CharClassTable& table = char_classes();
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    chars.clear();
    chars.reserve(text.size() + 1);
    for (size_t i = 0; i < text.size();) {
      uint32_t cp;
      const size_t len = decode_utf8(s + i, text.size() - i, &cp);
      chars.push_back({cp, table.classes(cp), static_cast<uint32_t>(i)});
      i += len;
    }
    n = chars.size();
    chars.push_back({0, 0, static_cast<uint32_t>(text.size())});
  }
};

bool is_cr_lf(const Char& c) { return c.cp == '\r' || c.cp == '\n'; }

// Oniguruma's case-insensitive match folds U+017F LATIN SMALL LETTER LONG S to 's'.
uint32_t fold_ascii(uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  return cp == 0x17F ? 's' : cp;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at i: the end index, or 0 when it does not match.
size_t match_contraction(const CharText& t, size_t i, size_t end) {
  if (i + 1 >= end || t.chars[i].cp != '\'') return 0;
  const uint32_t a = fold_ascii(t.chars[i + 1].cp);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if (i + 2 >= end) return 0;
  const uint32_t b = fold_ascii(t.chars[i + 2].cp);
  if ((a == 'r' || a == 'v') && b == 'e') return i + 3;
  if (a == 'l' && b == 'l') return i + 3;
  return 0;
}

size_t run_end(const CharText& t, size_t i, size_t end, uint16_t any_of) {
  while (i < end && (t.chars[i].cls & any_of)) ++i;
  return i;
}

size_t cr_lf_run_end(const CharText& t, size_t i, size_t end) {
  while (i < end && is_cr_lf(t.chars[i])) ++i;
  return i;
}

// \s*[\r\n]+ | \s+(?!\S) | \s+  at a whitespace character i.
size_t match_whitespace(const CharText& t, size_t i, size_t end) {
  const size_t j = run_end(t, i, end, kClassSpace);
  for (size_t k = j; k > i; --k) {
    if (is_cr_lf(t.chars[k - 1])) return k;  // \s* backs off to the last line break
  }
  if (j == end) return j;          // \s+(?!\S) at the end of the text
  return j - i >= 2 ? j - 1 : j;   // leave one space to prefix the next word
}

// \p{N}{1,max_digits}
size_t match_digits(const CharText& t, size_t i, size_t end, size_t max_digits) {
  size_t j = i;
  while (j < end && j - i < max_digits && (t.chars[j].cls & kClassNumber)) ++j;
  return j;
}

// ' ?[^\s\p{L}\p{N}]+' followed by a run of the `tail` characters; 0 if no match.
size_t match_other_run(const CharText& t, size_t i, size_t end, bool slash_in_tail) {
  constexpr uint16_t kNotOther = kClassSpace | kClassLetter | kClassNumber;
  size_t j = i;
  if (t.chars[j].cp == ' ' && j + 1 < end && !(t.chars[j + 1].cls & kNotOther)) ++j;
  if (t.chars[j].cls & kNotOther) return 0;
  while (j < end && !(t.chars[j].cls & kNotOther)) ++j;
  while (j < end && (is_cr_lf(t.chars[j]) || (slash_in_tail && t.chars[j].cp == '/'))) ++j;
  return j;
}

// The GPT-4 pattern (Qwen2 with max_digits 1, Llama 3 with 3):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t match_gpt4(const CharText& t, size_t i, size_t end, size_t max_digits) {
  const Char& c = t.chars[i];
  if (size_t e = match_contraction(t, i, end)) return e;
  if (c.cls & kClassLetter) return run_end(t, i, end, kClassLetter);
  if (!is_cr_lf(c) && !(c.cls & kClassNumber) && i + 1 < end && (t.chars[i + 1].cls & kClassLetter)) {
    return run_end(t, i + 1, end, kClassLetter);
  }
  if (c.cls & kClassNumber) return match_digits(t, i, end, max_digits);
  if (size_t e = match_other_run(t, i, end, false)) return e;
  return match_whitespace(t, i, end);
}

// o200k word with "upper" part first: [U]*[W]+(?i:contraction)? starting at s, where
// U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and W = [\p{Ll}\p{Lm}\p{Lo}\p{M}]. U* backs off
// until a W can start, so W starts at the last W character within or just after U*.
size_t match_o200k_lower_word(const CharText& t, size_t s, size_t end) {
  if (s >= end) return 0;
  const size_t u = run_end(t, s, end, kClassUpperish);
  size_t k = u;
  if (!(u < end && (t.chars[u].cls & kClassLowerish))) {
    while (k > s && !(t.chars[k - 1].cls & kClassLowerish)) --k;
    if (k == s) return 0;
    --k;
  }
  const size_t e = run_end(t, k, end, kClassLowerish);
  const size_t c = match_contraction(t, e, end);
  return c ? c : e;
}

// o200k word with a required "upper" part: [U]+[W]*(?i:contraction)?
size_t match_o200k_upper_word(const CharText& t, size_t s, size_t end) {
  if (s >= end || !(t.chars[s].cls & kClassUpperish)) return 0;
  const size_t e = run_end(t, run_end(t, s, end, kClassUpperish), end, kClassLowerish);
  const size_t c = match_contraction(t, e, end);
  return c ? c : e;
}

size_t match_o200k(const CharText& t, size_t i, size_t end) {
  const Char& c = t.chars[i];
  const bool prefix = !is_cr_lf(c) && !(c.cls & (kClassLetter | kClassNumber));
  if (prefix) {
    if (size_t e = match_o200k_lower_word(t, i + 1, end)) return e;
  }
  if (size_t e = match_o200k_lower_word(t, i, end)) return e;
  if (prefix) {
    if (size_t e = match_o200k_upper_word(t, i + 1, end)) return e;
  }
  if (size_t e = match_o200k_upper_word(t, i, end)) return e;
  if (c.cls & kClassNumber) return match_digits(t, i, end, 3);
  if (size_t e = match_other_run(t, i, end, true)) return e;
  return match_whitespace(t, i, end);
}

bool is_ascii_punct(uint32_t cp) {
  return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
         (cp >= 0x7B && cp <= 0x7E);
}
bool is_ascii_letter(uint32_t cp) { return (cp | 32) >= 'a' && (cp | 32) <= 'z'; }

// DeepSeek-V3's third split, at i; 0 when nothing matches here:
// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
// ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t match_deepseek_v3(const CharText& t, size_t i, size_t end) {
  const Char& c = t.chars[i];
  if (is_ascii_punct(c.cp) && i + 1 < end && is_ascii_letter(t.chars[i + 1].cp)) {
    size_t j = i + 1;
    while (j < end && is_ascii_letter(t.chars[j].cp)) ++j;
    return j;
  }
  constexpr uint16_t kLetterMark = kClassLetter | kClassMark;
  constexpr uint16_t kPunctSymbol = kClassPunct | kClassSymbol;
  const bool prefix = !is_cr_lf(c) && !(c.cls & (kClassLetter | kPunctSymbol));
  if (prefix && i + 1 < end && (t.chars[i + 1].cls & kLetterMark)) return run_end(t, i + 1, end, kLetterMark);
  if (c.cls & kLetterMark) return run_end(t, i, end, kLetterMark);
  size_t j = i;
  if (c.cp == ' ' && j + 1 < end && (t.chars[j + 1].cls & kPunctSymbol)) ++j;
  if (t.chars[j].cls & kPunctSymbol) return cr_lf_run_end(t, run_end(t, j, end, kPunctSymbol), end);
  if (c.cls & kClassSpace) return match_whitespace(t, i, end);
  return 0;
}

void push_word(const CharText& t, size_t begin, size_t end, std::vector<WordSpan>* words) {
  words->push_back({t.chars[begin].offset, t.chars[end].offset});
}

// Split with behavior Isolated: matches and the unmatched stretches between them are words.
void split_deepseek_v3_segment(const CharText& t, size_t begin, size_t end, std::vector<WordSpan>* words) {
  size_t gap = begin;
  for (size_t i = begin; i < end;) {
    const size_t e = match_deepseek_v3(t, i, end);
    if (e == 0) { ++i; continue; }
    if (gap < i) push_word(t, gap, i, words);
    push_word(t, i, e, words);
    i = gap = e;
  }
  if (gap < end) push_word(t, gap, end, words);
}

bool is_deepseek_cjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x309F) || (cp >= 0x30A0 && cp <= 0x30FF);
}

// Splits 1 (\p{N}{1,3}) and 2 (CJK runs) isolate maximal runs of digits (in groups of 3)
// and of CJK characters; split 3 runs on each remaining stretch on its own.
void split_deepseek_v3(const CharText& t, std::vector<WordSpan>* words) {
  for (size_t i = 0; i < t.n;) {
    size_t j = i;
    if (t.chars[i].cls & kClassNumber) {
      j = match_digits(t, i, t.n, 3);
      push_word(t, i, j, words);
    } else if (is_deepseek_cjk(t.chars[i].cp)) {
      while (j < t.n && is_deepseek_cjk(t.chars[j].cp) && !(t.chars[j].cls & kClassNumber)) ++j;
      push_word(t, i, j, words);
    } else {
      while (j < t.n && !(t.chars[j].cls & kClassNumber) && !is_deepseek_cjk(t.chars[j].cp)) ++j;
      split_deepseek_v3_segment(t, i, j, words);
    }
    i = j;
  }
}

}  // namespace

const char* pre_tokenizer_name(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kQwen2: return "qwen2";
    case PreTokenizerKind::kLlama3: return "llama-bpe";
    case PreTokenizerKind::kDeepSeekV3: return "deepseek-v3";
    case PreTokenizerKind::kO200k: return "gpt-4o";
  }
  return "?";
}

bool pre_tokenizer_from_name(std::string_view name, PreTokenizerKind* kind) {
  for (auto k : {PreTokenizerKind::kQwen2, PreTokenizerKind::kLlama3, PreTokenizerKind::kDeepSeekV3,
                 PreTokenizerKind::kO200k}) {
    if (name == pre_tokenizer_name(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

void pre_tokenize(PreTokenizerKind kind, std::string_view text, std::vector<WordSpan>* words) {
  thread_local CharText t;  // reused: decoding allocates nothing after warm-up
  t.decode(text);
  if (kind == PreTokenizerKind::kDeepSeekV3) {
    split_deepseek_v3(t, words);
    return;
  }
  for (size_t i = 0; i < t.n;) {
    size_t e;
    switch (kind) {
      case PreTokenizerKind::kQwen2: e = match_gpt4(t, i, t.n, 1); break;
      case PreTokenizerKind::kLlama3: e = match_gpt4(t, i, t.n, 3); break;
      default: e = match_o200k(t, i, t.n); break;
    }
    push_word(t, i, e, words);
    i = e;
  }
}

}  // namespace moxie::tokenizer

#include "moxie/tokenizer/unicode.h"

#include <algorithm>
#include <map>

#include "moxie/tokenizer/unicode_tables.h"

namespace moxie::tokenizer {
namespace {

uint16_t classes_of_category(GeneralCategory c) {
  using G = GeneralCategory;
  switch (c) {
    case G::Lu: case G::Lt: return kClassLetter | kClassUpperish;
    case G::Ll: return kClassLetter | kClassLowerish;
    case G::Lm: case G::Lo: return kClassLetter | kClassUpperish | kClassLowerish;
    case G::Mn: case G::Mc: case G::Me: return kClassMark | kClassUpperish | kClassLowerish;
    case G::Nd: case G::Nl: case G::No: return kClassNumber;
    case G::Pc: case G::Pd: case G::Ps: case G::Pe: case G::Pi: case G::Pf: case G::Po:
      return kClassPunct;
    case G::Sm: case G::Sc: case G::Sk: case G::So: return kClassSymbol;
    case G::Zs: case G::Zl: case G::Zp: return kClassSpace;
    default: return 0;
  }
}

uint16_t classes_with_spaces(uint32_t cp, GeneralCategory category) {
  uint16_t bits = classes_of_category(category);
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) bits |= kClassSpace;
  return bits;
}

}  // namespace

GeneralCategory general_category(uint32_t cp) {
  const tables::CodePointRange* begin = tables::kCategoryRanges;
  const tables::CodePointRange* end = begin + tables::kCategoryRangeCount;
  const auto* it = std::upper_bound(begin, end, cp, [](uint32_t v, const tables::CodePointRange& r) {
    return v < r.first;
  });
  if (it == begin) return GeneralCategory::Cn;
  --it;
  return cp <= it->last ? static_cast<GeneralCategory>(it->value) : GeneralCategory::Cn;
}

CharClassTable::CharClassTable() {
  // Identical blocks (most of the planes) share storage.
  std::vector<uint8_t> category(0x110000, 0);  // [code point] GeneralCategory, Cn default
  for (int r = 0; r < tables::kCategoryRangeCount; ++r) {
    const auto& range = tables::kCategoryRanges[r];
    std::fill(category.begin() + range.first, category.begin() + range.last + 1,
              static_cast<uint8_t>(range.value));
  }
  std::map<std::vector<uint16_t>, uint16_t> seen;
  std::vector<uint16_t> block(256);
  for (uint32_t b = 0; b < (0x110000 >> 8); ++b) {
    for (uint32_t i = 0; i < 256; ++i) {
      const uint32_t cp = (b << 8) | i;
      block[i] = classes_with_spaces(cp, static_cast<GeneralCategory>(category[cp]));
    }
    auto [it, inserted] = seen.emplace(block, static_cast<uint16_t>(seen.size()));
    if (inserted) blocks_.insert(blocks_.end(), block.begin(), block.end());
    block_index_[b] = it->second;
  }
}

const CharClassTable& char_classes() {
  static const CharClassTable table;
  return table;
}

size_t encode_utf8(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

void append_utf8(uint32_t cp, std::vector<char>* out) {
  char buf[4];
  const size_t n = encode_utf8(cp, buf);
  out->insert(out->end(), buf, buf + n);
}

}  // namespace moxie::tokenizer

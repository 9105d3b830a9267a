#pragma once
// Raw Unicode data tables, generated from Debian's unicode-data package by
// tools/ref/tokenizer_unicode_tables.py (see unicode_category_data.cc and
// unicode_normalization_data.cc). unicode.h and nfc.h build fast lookups from them.
#include <cstdint>

namespace moxie::tokenizer::tables {

struct CodePointRange {
  uint32_t first;
  uint32_t last;  // inclusive
  uint32_t value;
};

struct CanonicalDecomposition {
  uint32_t code_point;
  uint32_t first;
  uint32_t second;  // 0 for a singleton decomposition
  uint32_t composes;  // 1 when NFC recomposes (first, second) back into code_point
};

extern const CodePointRange kCategoryRanges[];
extern const int kCategoryRangeCount;
extern const CodePointRange kCombiningClassRanges[];
extern const int kCombiningClassRangeCount;
extern const CanonicalDecomposition kCanonicalDecompositions[];
extern const int kCanonicalDecompositionCount;
extern const CodePointRange kNfcQuickCheckNotYes[];
extern const int kNfcQuickCheckNotYesCount;

}  // namespace moxie::tokenizer::tables

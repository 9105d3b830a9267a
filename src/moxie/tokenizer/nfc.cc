#include "moxie/tokenizer/nfc.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "moxie/tokenizer/unicode.h"
#include "moxie/tokenizer/unicode_tables.h"

namespace moxie::tokenizer {
namespace {

// Hangul syllables decompose and compose arithmetically (Unicode 15.0, section 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

// An invalid input byte travels through the algorithm as this tag plus the byte value.
constexpr uint32_t kRawByteTag = 0x80000000u;

struct NfcData {
  std::vector<uint64_t> unstable_bits;  // [0x110000 / 64]: NFC_QC != Yes or ccc != 0
  std::unordered_map<uint32_t, uint8_t> combining_class;
  std::unordered_map<uint32_t, std::pair<uint32_t, uint32_t>> decomposition;
  std::unordered_map<uint64_t, uint32_t> composition;  // (first << 32 | second) -> composed

  NfcData() : unstable_bits(0x110000 / 64, 0) {
    auto mark = [&](uint32_t first, uint32_t last) {
      for (uint32_t cp = first; cp <= last; ++cp) unstable_bits[cp >> 6] |= uint64_t{1} << (cp & 63);
    };
    for (int i = 0; i < tables::kCombiningClassRangeCount; ++i) {
      const auto& r = tables::kCombiningClassRanges[i];
      for (uint32_t cp = r.first; cp <= r.last; ++cp) combining_class[cp] = static_cast<uint8_t>(r.value);
      mark(r.first, r.last);
    }
    for (int i = 0; i < tables::kNfcQuickCheckNotYesCount; ++i) {
      mark(tables::kNfcQuickCheckNotYes[i].first, tables::kNfcQuickCheckNotYes[i].last);
    }
    for (int i = 0; i < tables::kCanonicalDecompositionCount; ++i) {
      const auto& d = tables::kCanonicalDecompositions[i];
      decomposition[d.code_point] = {d.first, d.second};
      if (d.composes) composition[uint64_t{d.first} << 32 | d.second] = d.code_point;
    }
  }

  bool unstable(uint32_t cp) const {
    return cp < 0x110000 && (unstable_bits[cp >> 6] >> (cp & 63)) & 1;
  }
  uint8_t ccc(uint32_t cp) const {
    if (cp >= 0x110000) return 0;
    auto it = combining_class.find(cp);
    return it == combining_class.end() ? 0 : it->second;
  }
};

const NfcData& nfc_data() {
  static const NfcData data;
  return data;
}

void decompose(const NfcData& data, uint32_t cp, std::vector<uint32_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  auto it = data.decomposition.find(cp);
  if (it == data.decomposition.end()) {
    out->push_back(cp);
    return;
  }
  decompose(data, it->second.first, out);
  if (it->second.second != 0) decompose(data, it->second.second, out);
}

// Canonical ordering: a stable sort by combining class of each run of non-starters.
void reorder(const NfcData& data, std::vector<uint32_t>* cps) {
  auto& v = *cps;
  for (size_t i = 0; i < v.size();) {
    if (data.ccc(v[i]) == 0) { ++i; continue; }
    size_t j = i;
    while (j < v.size() && data.ccc(v[j]) != 0) ++j;
    std::stable_sort(v.begin() + i, v.begin() + j,
                     [&](uint32_t a, uint32_t b) { return data.ccc(a) < data.ccc(b); });
    i = j;
  }
}

uint32_t compose_pair(const NfcData& data, uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  auto it = data.composition.find(uint64_t{a} << 32 | b);
  return it == data.composition.end() ? 0 : it->second;
}

// Canonical composition: each character joins the last starter unless blocked by a
// character of equal or higher combining class in between (or by any starter).
void compose(const NfcData& data, std::vector<uint32_t>* cps) {
  auto& v = *cps;
  if (v.empty()) return;
  size_t starter = SIZE_MAX, out = 0;
  int last_ccc = -1;
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t cp = v[i];
    const int cc = data.ccc(cp);
    if (starter != SIZE_MAX && (last_ccc < cc || (last_ccc == 0 && out == starter + 1))) {
      if (const uint32_t composed = compose_pair(data, v[starter], cp)) {
        v[starter] = composed;
        continue;
      }
    }
    if (cc == 0) {
      starter = out;
      last_ccc = 0;
    } else {
      last_ccc = cc;
    }
    v[out++] = cp;
  }
  v.resize(out);
}

}  // namespace

bool nfc_normalize(std::string_view text, std::string* out) {
  const NfcData& data = nfc_data();
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t first_unstable = n;
  for (size_t i = 0; i < n;) {
    if (s[i] < 0x80) { ++i; continue; }
    uint32_t cp;
    const size_t len = decode_utf8(s + i, n - i, &cp);
    if (data.unstable(cp)) { first_unstable = i; break; }
    i += len;
  }
  if (first_unstable == n) return false;

  std::vector<uint32_t> cps;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    const size_t len = decode_utf8(s + i, n - i, &cp);
    if (cp == kInvalidCodePoint) cps.push_back(kRawByteTag | s[i]);
    else decompose(data, cp, &cps);
    i += len;
  }
  reorder(data, &cps);
  compose(data, &cps);
  std::string result;
  result.reserve(n);
  for (uint32_t cp : cps) {
    if (cp & kRawByteTag) { result.push_back(static_cast<char>(cp & 0xFF)); continue; }
    char buf[4];
    result.append(buf, encode_utf8(cp, buf));
  }
  if (result == text) return false;
  *out = std::move(result);
  return true;
}

}  // namespace moxie::tokenizer

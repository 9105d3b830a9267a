// Unicode tables against Debian's unicode-data files (read here independently of the
// generator), the UTF-8 decoder against hand-worked byte sequences from RFC 3629, and NFC
// against the Unicode Consortium's NormalizationTest.txt.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "moxie/tokenizer/nfc.h"
#include "moxie/tokenizer/unicode.h"

namespace moxie::tokenizer {
namespace {

const std::string kUcd = "/usr/share/unicode/";

bool have_ucd() {
  if (std::ifstream(kUcd + "UnicodeData.txt").good()) return true;
  ADD_FAILURE() << kUcd << "UnicodeData.txt is missing: install Debian's unicode-data (scripts/setup.sh)";
  return false;
}

TEST(UnicodeTables, GeneratedFilesMatchTheGenerator) {
  if (!have_ucd()) return;
  const std::string cmd = std::string("/usr/bin/python3 ") + MOXIE_SOURCE_DIR + "/tools/ref/tokenizer_unicode_tables.py --check";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "re-run tools/ref/tokenizer_unicode_tables.py";
}

TEST(UnicodeTables, CategoriesMatchUnicodeData) {
  if (!have_ucd()) return;
  const char* names[] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
                         "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};
  std::ifstream in(kUcd + "UnicodeData.txt");
  std::string line;
  std::vector<int> expected(0x110000, 0);
  uint32_t range_first = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string part; std::getline(ss, part, ';');) f.push_back(part);
    const uint32_t cp = std::stoul(f[0], nullptr, 16);
    int cat = 0;
    while (f[2] != names[cat]) ++cat;
    if (f[1].find(", First>") != std::string::npos) { range_first = cp; continue; }
    const uint32_t first = f[1].find(", Last>") != std::string::npos ? range_first : cp;
    for (uint32_t c = first; c <= cp; ++c) expected[c] = cat;
  }
  const CharClassTable& table = char_classes();
  int mismatches = 0;
  for (uint32_t cp = 0; cp < 0x110000; ++cp) {
    const int got = static_cast<int>(general_category(cp));
    if (got != expected[cp] && ++mismatches < 5) ADD_FAILURE() << "U+" << std::hex << cp << " " << names[got];
    const bool letter = expected[cp] >= 1 && expected[cp] <= 5;
    const bool space = (expected[cp] >= 23 && expected[cp] <= 25) || (cp >= 9 && cp <= 13) || cp == 0x85;
    EXPECT_EQ(bool(table.classes(cp) & kClassLetter), letter) << std::hex << cp;
    EXPECT_EQ(bool(table.classes(cp) & kClassSpace), space) << std::hex << cp;
  }
  EXPECT_EQ(mismatches, 0);
}

uint32_t decode(const std::string& s, size_t* len) {
  uint32_t cp;
  *len = decode_utf8(reinterpret_cast<const unsigned char*>(s.data()), s.size(), &cp);
  return cp;
}

TEST(Utf8, DecodesValidAndRejectsMalformedSequences) {
  size_t len;
  EXPECT_EQ(decode("A", &len), 0x41u); EXPECT_EQ(len, 1u);
  EXPECT_EQ(decode("\xC3\xA9", &len), 0xE9u); EXPECT_EQ(len, 2u);
  EXPECT_EQ(decode("\xE2\x82\xAC", &len), 0x20ACu); EXPECT_EQ(len, 3u);
  EXPECT_EQ(decode("\xF0\x9F\x98\x80", &len), 0x1F600u); EXPECT_EQ(len, 4u);
  EXPECT_EQ(decode("\xF4\x8F\xBF\xBF", &len), 0x10FFFFu); EXPECT_EQ(len, 4u);
  for (const char* bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "\xFF",
                          "\xE2\x82", "\xF0\x9F\x98", "\xC3("}) {
    EXPECT_EQ(decode(bad, &len), kInvalidCodePoint) << bad;
    EXPECT_EQ(len, 1u);
  }
}

std::string utf8_of_hex_list(const std::string& field) {
  std::string out;
  std::stringstream ss(field);
  for (std::string hex; ss >> hex;) {
    char buf[4];
    out.append(buf, encode_utf8(std::stoul(hex, nullptr, 16), buf));
  }
  return out;
}

std::string nfc(const std::string& s) {
  std::string out;
  return nfc_normalize(s, &out) ? out : s;
}

TEST(Nfc, PassesNormalizationTest) {
  if (!have_ucd()) return;
  const std::string tmp = std::string(MOXIE_BINARY_DIR) + "/NormalizationTest.txt";
  const std::string cmd = "bzcat " + kUcd + "NormalizationTest.txt.bz2 > " + tmp;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(tmp);
  std::string line;
  int cases = 0, failures = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '@') continue;
    std::vector<std::string> c;
    std::stringstream ss(line);
    for (std::string part; c.size() < 5 && std::getline(ss, part, ';');) c.push_back(utf8_of_hex_list(part));
    ++cases;
    // NFC conformance: c2 == NFC(c1) == NFC(c2) == NFC(c3), c4 == NFC(c4) == NFC(c5).
    const bool ok = nfc(c[0]) == c[1] && nfc(c[1]) == c[1] && nfc(c[2]) == c[1] && nfc(c[3]) == c[3] &&
                    nfc(c[4]) == c[3];
    if (!ok && ++failures <= 5) ADD_FAILURE() << "NormalizationTest line: " << line;
  }
  EXPECT_GT(cases, 18000);
  EXPECT_EQ(failures, 0);
  std::remove(tmp.c_str());
}

TEST(Nfc, KeepsInvalidBytesAndUnchangedText) {
  std::string out;
  EXPECT_FALSE(nfc_normalize("plain ascii", &out));
  EXPECT_FALSE(nfc_normalize("\xC3\xA9t\xC3\xA9", &out));  // "été" is already NFC
  ASSERT_TRUE(nfc_normalize("e\xCC\x81\xFF", &out));         // e + U+0301, then a stray 0xFF
  EXPECT_EQ(out, "\xC3\xA9\xFF");
}

}  // namespace
}  // namespace moxie::tokenizer

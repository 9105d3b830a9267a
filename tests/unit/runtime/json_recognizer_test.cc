// JsonRecognizer against hand-written prefixes (from RFC 8259 and RFC 3629) and against
// nlohmann::json::accept (the oracle) on complete documents: a few thousand random valid
// objects made here and random byte mutations of them. Every prefix the recogniser
// accepts must also be completable: a completion it builds itself must satisfy nlohmann.
#include "moxie/runtime/sampler/json_recognizer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"

namespace moxie {
namespace {

// The index of the first byte the recogniser refuses, or -1 when it takes them all.
long first_rejected(std::string_view text, const JsonLimits& limits = {}) {
  JsonRecognizer r(limits);
  for (size_t i = 0; i < text.size(); ++i)
    if (!r.push(uint8_t(text[i]))) return long(i);
  return -1;
}

bool accepts_document(std::string_view text) {
  JsonRecognizer r;
  return r.push(text) && r.complete();
}

bool oracle_accepts_object(const std::string& text) {
  if (!nlohmann::json::accept(text)) return false;
  return nlohmann::json::parse(text).is_object();
}

TEST(JsonRecognizer, AcceptsValidPrefixes) {
  const char* prefixes[] = {
      "", "  {", "{", "{\"", "{\"a", "{\"a\"", "{\"a\" :", "{\"a\":-", "{\"a\":-0.", "{\"a\":1e", "{\"a\":1E+",
      "{\"a\":0.5e-1", "{\"a\":tr", "{\"a\":[", "{\"a\":[]", "{\"a\":[1,", "{\"a\":[1,{\"b\":null}]",
      "{\"a\":\"\\", "{\"a\":\"\\u", "{\"a\":\"\\u00", "{\"a\":\"\\uD83D", "{\"a\":\"\\uD83D\\uDE", "{\"a\":\"\xC3",
      "{\"a\":\"\xE2\x82", "{\"a\":\"\xF0\x9F\x98", "{\"k\":\"\x7F\"", "{\"a\":{\"b\":{", "{}", "{} \n",
      "{\"a\":[true,false,null,\"x\",0,-1.5E+10]}"};
  for (const char* p : prefixes) EXPECT_EQ(first_rejected(p), -1) << p;
}

TEST(JsonRecognizer, RejectsAtTheFirstBadByte) {
  struct Case {
    const char* text;
    long at;
  };
  const Case cases[] = {
      {"[", 0},                    // top level must be an object
      {"\"x\"", 0},                // ... not a string
      {"{a", 1},                   // keys are strings
      {"{\"a\" 1", 5},             // missing colon
      {"{\"a\":}", 5},             // missing value
      {"{\"a\":1,}", 7},           // trailing comma
      {"{\"a\":[1,]", 8},          // trailing comma in an array
      {"{\"a\":01", 6},            // leading zero
      {"{\"a\":-a", 6},            // minus without digits
      {"{\"a\":1.e", 7},           // '.' needs a digit
      {"{\"a\":1e+}", 8},          // exponent needs a digit
      {"{\"a\":+1", 5},            // no plus sign
      {"{\"a\":.5", 5},            // no bare fraction
      {"{\"a\":tru ", 8},          // broken literal
      {"{\"a\":nul}", 8},
      {"{\"a\":\"\x01", 6},        // raw control character
      {"{\"a\":\"\\x", 7},         // unknown escape
      {"{\"a\":\"\\u12G", 10},     // hex only
      {"{\"a\":\"\\uDC00", 9},     // lone low surrogate, decided at its second digit
      {"{\"a\":\"\\uD800x", 12},   // high surrogate without its low half
      {"{\"a\":\"\\uD800\\n", 13}, // ... not even another escape
      {"{\"a\":\"\\uD800\\u0041", 14},
      {"{\"a\":\"\\uD800\\uD800", 15},
      {"{\"a\":\"\x80", 6},        // stray continuation byte
      {"{\"a\":\"\xC0\x80", 6},    // overlong lead byte
      {"{\"a\":\"\xE0\x80", 7},    // overlong 3-byte form
      {"{\"a\":\"\xED\xA0", 7},    // encoded surrogate
      {"{\"a\":\"\xF4\x90", 7},    // above U+10FFFF
      {"{\"a\":\"\xF5", 6},
      {"{\"a\":\"\xC3x", 7},       // missing continuation
      {"{\"a\":[1}", 7},           // mismatched close
      {"{\"a\":{]", 6},
      {"{}}", 2},                  // nothing after the object
      {"{} x", 3},
      {"{}{}", 2},
  };
  for (const Case& c : cases) EXPECT_EQ(first_rejected(c.text), c.at) << c.text;
}

TEST(JsonRecognizer, EnforcesLimits) {
  JsonLimits limits;
  limits.max_whitespace_run = 4;
  limits.max_depth = 3;
  EXPECT_EQ(first_rejected("{    \"a\"", limits), -1);
  EXPECT_EQ(first_rejected("{     \"a\"", limits), 5);
  EXPECT_EQ(first_rejected("{\"a\":\"        \"", limits), -1);  // whitespace inside strings is text
  EXPECT_EQ(first_rejected("{\"a\":[{\"b\":1}]}", limits), -1);
  EXPECT_EQ(first_rejected("{\"a\":[[", limits), -1);
  EXPECT_EQ(first_rejected("{\"a\":[[[", limits), 7);  // a fourth level
  EXPECT_EQ(first_rejected("{\"a\":12345678901234567890}"), -1);
  EXPECT_EQ(first_rejected("{\"a\":123456789012345678901"), 25);  // 21 integer digits
  EXPECT_EQ(first_rejected("{\"a\":1e99}"), -1);
  EXPECT_EQ(first_rejected("{\"a\":1e999"), 9);  // would overflow a double
  EXPECT_THROW(JsonRecognizer(JsonLimits{.max_depth = 65}), Error);
  EXPECT_THROW(JsonRecognizer(JsonLimits{.max_exp_digits = 3}), Error);
}

// Random valid objects within the default limits, with every construct the grammar has.
class DocumentMaker {
 public:
  explicit DocumentMaker(uint64_t seed) : state_(seed) {}
  std::string object(int depth) {
    std::string s = "{" + ws();
    const int n = int(below(depth > 3 ? 2 : 4));
    for (int i = 0; i < n; ++i) s += (i ? "," + ws() : "") + string() + ws() + ":" + ws() + value(depth + 1) + ws();
    return s + "}";
  }

 private:
  uint64_t next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return state_ >> 33;
  }
  uint64_t below(uint64_t n) { return next() % n; }
  std::string ws() {
    static const char kWs[] = " \t\n\r";
    std::string s;
    for (uint64_t i = below(4); i > 0 && below(2); --i) s += kWs[below(4)];
    return s;
  }
  std::string value(int depth) {
    switch (below(depth > 4 ? 4 : 6)) {
      case 0: return string();
      case 1: return number();
      case 2: return std::vector<std::string>{"true", "false", "null"}[below(3)];
      case 3: return string();
      case 4: return object(depth);
      default: {
        std::string s = "[" + ws();
        const int n = int(below(4));
        for (int i = 0; i < n; ++i) s += (i ? "," + ws() : "") + value(depth + 1) + ws();
        return s + "]";
      }
    }
  }
  std::string digits(int n, bool first_nonzero) {
    std::string s;
    for (int i = 0; i < n; ++i) s += char('0' + (i == 0 && first_nonzero ? 1 + below(9) : below(10)));
    return s;
  }
  std::string number() {
    std::string s = below(3) == 0 ? "-" : "";
    s += below(4) == 0 ? "0" : digits(1 + int(below(6)), true);
    if (below(2)) s += "." + digits(1 + int(below(5)), false);
    if (below(3) == 0) s += std::string(below(2) ? "e" : "E") + std::vector<std::string>{"", "+", "-"}[below(3)] + digits(1, false);
    return s;
  }
  std::string string() {
    static const char* kPieces[] = {"a", "Z", " ", "key", "\\n", "\\\"", "\\\\", "\\/", "\\t", "\\u00e9", "\\uD83D\\uDE00",
                                    "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\x7F", "0", ":", ",", "{", "]"};
    std::string s = "\"";
    for (uint64_t i = below(5); i > 0; --i) s += kPieces[below(std::size(kPieces))];
    return s + "\"";
  }
  uint64_t state_;
};

// A mutation can turn "-0.882" into "-0e882": valid JSON, but past the recogniser's
// documented 2-digit exponent limit. Such mutants are only checked one way.
bool has_long_exponent(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != 'e' && text[i] != 'E') continue;
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    size_t n = 0;
    while (j + n < text.size() && text[j + n] >= '0' && text[j + n] <= '9') ++n;
    if (n > 2) return true;
  }
  return false;
}

// Completes an accepted prefix by trying bytes in a fixed order that always makes progress
// towards the close; the recogniser says which bytes are allowed, nlohmann judges the result.
std::string complete_prefix(std::string_view prefix) {
  JsonRecognizer r;
  if (!r.push(prefix)) return {};
  static const std::string kOrder = std::string("\"}]:0\\uDCe") + "\x80\x90\xA0" + "truefalsn{";
  std::string out(prefix);
  for (int step = 0; step < 200 && !r.complete(); ++step) {
    bool moved = false;
    for (char c : kOrder) {
      JsonRecognizer next = r;
      if (!next.push(uint8_t(c))) continue;
      r = next;
      out += c;
      moved = true;
      break;
    }
    if (!moved) return out + "<stuck>";
  }
  return out;
}

TEST(JsonRecognizer, AgreesWithNlohmannOnRandomDocumentsAndMutations) {
  int n_valid = 0, n_mutants = 0, n_mutants_valid = 0;
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    DocumentMaker maker(seed);
    const std::string doc = std::string(seed % 7 == 0 ? " " : "") + maker.object(0);
    ASSERT_TRUE(oracle_accepts_object(doc)) << doc;  // the maker itself is checked by the oracle
    ASSERT_TRUE(accepts_document(doc)) << doc;
    ++n_valid;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull;
    for (int m = 0; m < 4; ++m) {
      s = s * 6364136223846793005ull + 1;
      std::string mutant = doc;
      const size_t at = (s >> 20) % mutant.size();
      const char kBytes[] = "{}[]\",:\\ 0-.eE+tu\x01\x80\xC3";
      const char b = kBytes[(s >> 40) % (sizeof kBytes - 1)];
      switch ((s >> 50) % 3) {
        case 0: mutant[at] = b; break;
        case 1: mutant.insert(mutant.begin() + long(at), b); break;
        default: mutant.erase(at, 1);
      }
      const bool oracle = oracle_accepts_object(mutant), mine = accepts_document(mutant);
      if (mine || !has_long_exponent(mutant)) {
        ASSERT_EQ(mine, oracle) << "mutant of seed " << seed << ": " << mutant;
      }
      ++n_mutants;
      n_mutants_valid += oracle;
      // Every prefix the recogniser takes can still be finished into a valid object.
      const long bad = first_rejected(mutant);
      const size_t accepted = bad < 0 ? mutant.size() : size_t(bad);
      for (size_t len = 0; len <= accepted; len += 1 + len / 8) {
        const std::string done = complete_prefix(std::string_view(mutant).substr(0, len));
        ASSERT_TRUE(oracle_accepts_object(done)) << "prefix " << mutant.substr(0, len) << " -> " << done;
      }
    }
  }
  std::printf("checked %d random objects, %d mutants (%d still valid)\n", n_valid, n_mutants, n_mutants_valid);
  EXPECT_GT(n_mutants_valid, 100);
  EXPECT_LT(n_mutants_valid, n_mutants - 1000);
}

}  // namespace
}  // namespace moxie
